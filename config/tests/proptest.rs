//! Property tests: the parser never panics, and printed trees parse back.

use config::settings::parse_str;
use config::Section;
use proptest::prelude::*;

/// The shape of a tree without locations: (name, refs, settings, sections).
#[derive(Debug, PartialEq)]
struct Shape(
    String,
    Vec<String>,
    Vec<(String, Option<String>)>,
    Vec<Shape>,
);

fn shape(s: &Section) -> Shape {
    Shape(
        s.name.clone(),
        s.references.clone(),
        s.settings
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect(),
        s.sections.iter().map(shape).collect(),
    )
}

fn name() -> impl Strategy<Value = String> {
    // Any name characters, but not the keyword `include`.
    "[a-zA-Z0-9_%*/@+-]{1,8}".prop_filter("include is a keyword", |n| n != "include")
}

fn value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        6 => any::<String>().prop_map(Some),
        3 => "[ -~\t\n]{0,12}".prop_map(Some),
    ]
}

fn tree(depth: u32) -> BoxedStrategy<Section> {
    let loc = config::Location::synthetic("gen");
    let leaf = (
        name(),
        prop::collection::vec("[a-z]{1,4}(\\.[a-z]{1,4}){0,2}", 0..3),
        prop::collection::btree_map(name(), value(), 0..5),
    );
    if depth == 0 {
        let loc = loc.clone();
        leaf.prop_map(move |(n, refs, kvs)| build(n, refs, kvs, vec![], &loc))
            .boxed()
    } else {
        (
            leaf,
            prop::collection::btree_map(name(), tree(depth - 1), 0..4),
        )
            .prop_map(move |((n, refs, kvs), subs)| {
                let subs = subs
                    .into_iter()
                    .map(|(k, mut s)| {
                        s.name = k;
                        s
                    })
                    .collect();
                build(n, refs, kvs, subs, &loc)
            })
            .boxed()
    }
}

fn build(
    name: String,
    refs: Vec<String>,
    kvs: std::collections::BTreeMap<String, Option<String>>,
    sections: Vec<Section>,
    loc: &config::Location,
) -> Section {
    let mut s = Section::new(name, loc.clone());
    for r in refs {
        s.add_reference(r);
    }
    for (k, v) in kvs {
        s.set(k, v, loc.clone());
    }
    s.sections = sections;
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse_str(&text, "fuzz", &mut Vec::new());
        let _ = config::load_str(&text, "fuzz");
    }

    #[test]
    fn settings_like_text_never_panics(
        text in "([a-z{}=\"#:,. \t\n\\\\]|include |%any|0x|[0-9]){0,80}"
    ) {
        let _ = config::load_str(&text, "fuzz");
    }

    #[test]
    fn printed_tree_parses_back(mut root in tree(2)) {
        root.name = String::new();
        root.references.clear();
        let text = root.to_string();
        let parsed = parse_str(&text, "rt", &mut Vec::new())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(shape(&parsed), shape(&root), "text was:\n{}", text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `vtid.max_policies_per_child` over its whole range: 1 to
    /// MAX_POLICIES_PER_CHILD taken as written, everything else refused
    /// with the key's name.
    #[test]
    fn max_policies_per_child_whole_range(v in prop_oneof![
        Just(0u64), Just(1u64), Just(u64::from(config::MAX_POLICIES_PER_CHILD)),
        Just(u64::from(config::MAX_POLICIES_PER_CHILD) + 1), 0u64..=u64::from(u32::MAX) + 1
    ]) {
        let text = format!("vtid {{\n max_policies_per_child = {v}\n}}\n");
        let r = config::load_str(&text, "t.conf");
        if (1..=u64::from(config::MAX_POLICIES_PER_CHILD)).contains(&v) {
            let l = r.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(u64::from(l.config.daemon.max_policies_per_child), v);
        } else {
            let e = r.expect_err("out of range");
            prop_assert!(e.to_string().contains("max_policies_per_child"), "{}", e);
            prop_assert!(e.to_string().contains("t.conf:2:"), "{}", e);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The IKE_SA_INIT limits take any u32 (0 is "no limit"), and
    /// `max_packet` exactly 1280..=65535, with an error naming the key
    /// otherwise.
    #[test]
    fn init_limits_over_their_whole_range(
        cookie in any::<u32>(),
        half_open in any::<u32>(),
        block in any::<u32>(),
        ikesa in any::<u32>(),
        max_packet in prop_oneof![0u32..2000, 60000u32..70000, any::<u32>()],
    ) {
        let text = format!(
            "vtid {{\n cookie_threshold = {cookie}\n init_limit_half_open = {half_open}\n \
             block_threshold = {block}\n ikesa_limit = {ikesa}\n max_packet = {max_packet}\n}}\n"
        );
        match config::load_str(&text, "limits.conf") {
            Ok(l) => {
                prop_assert!((1280..=65535).contains(&max_packet));
                let d = &l.config.daemon;
                prop_assert_eq!(
                    (d.cookie_threshold, d.init_limit_half_open, d.block_threshold, d.ikesa_limit, d.max_packet),
                    (cookie, half_open, block, ikesa, max_packet)
                );
            }
            Err(e) => {
                prop_assert!(!(1280..=65535).contains(&max_packet), "{}", e);
                prop_assert!(e.to_string().contains("max_packet"), "{}", e);
            }
        }
    }
}
