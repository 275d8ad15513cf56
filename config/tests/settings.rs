//! The untyped settings parser: syntax, merging, includes, errors.

use config::settings::{parse_file, parse_str};
use config::{ConfigError, Section};

fn parse(text: &str) -> Section {
    let mut w = Vec::new();
    parse_str(text, "test.conf", &mut w).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> ConfigError {
    let mut w = Vec::new();
    parse_str(text, "test.conf", &mut w).expect_err("should fail")
}

fn pos(e: &ConfigError) -> (u32, u32) {
    let l = e.location().expect("location");
    (l.line, l.column)
}

#[test]
fn sections_keys_comments() {
    let s = parse("# comment\n a = b # trailing\nsec {\n  x = 1\n  sub { y = 2 }\n}\nlast=  v  \n");
    assert_eq!(s.value("a"), Some("b"));
    assert_eq!(s.value("last"), Some("v"));
    let sec = s.section("sec").unwrap();
    assert_eq!(sec.value("x"), Some("1"));
    assert_eq!(s.section_path("sec.sub").unwrap().value("y"), Some("2"));
    assert_eq!(sec.location.line, 3);
    assert_eq!(sec.get("x").unwrap().location.column, 3);
}

#[test]
fn values_run_to_end_of_line() {
    let s = parse("id = CN=moon, O=strongSwan   Project\nk = a{b=c\n");
    assert_eq!(s.value("id"), Some("CN=moon, O=strongSwan Project"));
    assert_eq!(s.value("k"), Some("a{b=c"));
}

#[test]
fn brace_ends_value_on_one_line() {
    let s = parse("a { b = c }\nd { }");
    assert_eq!(s.section("a").unwrap().value("b"), Some("c"));
    assert!(s.section("d").unwrap().settings.is_empty());
}

#[test]
fn quoted_strings_and_escapes() {
    let s = parse(concat!(
        "a = \"x # not a comment\"\n",
        "b = \"tab\\there\\nnl \\\"q\\\" back\\\\slash \\z\"\n",
        "c = \"line one\\\ncontinued\"\n",
        "d = \"multi\nline\"\n",
        "e = pre\"mid\"post\n",
        "f = \"\"\n",
        "g = \"  spaced  \"\n",
    ));
    assert_eq!(s.value("a"), Some("x # not a comment"));
    assert_eq!(s.value("b"), Some("tab\there\nnl \"q\" back\\slash z"));
    assert_eq!(s.value("c"), Some("line onecontinued"));
    assert_eq!(s.value("d"), Some("multi\nline"));
    assert_eq!(s.value("e"), Some("pre mid post"));
    assert_eq!(s.value("f"), Some(""));
    assert_eq!(s.value("g"), Some("  spaced  "));
}

#[test]
fn empty_assignment_clears() {
    let s = parse("a = 1\na =\nb = # only a comment\n");
    let a = s.get("a").unwrap();
    assert_eq!(a.value, None);
    assert_eq!(s.value("a"), None);
    assert_eq!(s.get("b").unwrap().value, None);
}

#[test]
fn name_and_brace_on_separate_lines() {
    let s = parse("conn\n{\n  a = 1\n}\n");
    assert_eq!(s.section("conn").unwrap().value("a"), Some("1"));
}

#[test]
fn repeated_sections_and_keys_merge() {
    let s = parse("a = 1\ns { x = 1\n y = 2 }\nb = 2\ns { x = 3\n t { z = 1 } }\na = 9\n");
    assert_eq!(s.value("a"), Some("9"));
    // The overridden key keeps its first place.
    let keys: Vec<_> = s.settings.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(s.get("a").unwrap().location.line, 7);
    let sec = s.section("s").unwrap();
    assert_eq!(sec.value("x"), Some("3"));
    assert_eq!(sec.value("y"), Some("2"));
    assert_eq!(sec.section("t").unwrap().value("z"), Some("1"));
    assert_eq!(s.sections.len(), 1);
}

#[test]
fn references() {
    let s = parse("base { a = 1\n sub { b = 2 } }\nconns { c : base, other.x {\n a = 5 } }\n");
    let c = s.section_path("conns.c").unwrap();
    assert_eq!(c.references, ["base", "other.x"]);
    let mut w = Vec::new();
    let r = s.resolve_references(&mut w).unwrap();
    let c = r.section_path("conns.c").unwrap();
    assert_eq!(c.value("a"), Some("5"));
    assert_eq!(c.section("sub").unwrap().value("b"), Some("2"));
    assert_eq!(w.len(), 1, "missing reference other.x warns: {w:?}");
    assert!(w[0].message.contains("other.x"));
}

#[test]
fn reference_cleared_value_shadows_inherited() {
    let s = parse("base { a = 1 }\nc : base { a = }\n");
    let r = s.resolve_references(&mut Vec::new()).unwrap();
    assert_eq!(r.section("c").unwrap().value("a"), None);
}

#[test]
fn reference_cycle_is_an_error() {
    let s = parse("a : b { }\nb : a { }\n");
    assert!(s.resolve_references(&mut Vec::new()).is_err());
}

#[test]
fn key_named_include() {
    let s = parse("include = yes\n");
    assert_eq!(s.value("include"), Some("yes"));
}

#[test]
fn error_positions() {
    let e = err("a {\n  b = 1\n");
    assert!(matches!(e, ConfigError::Syntax { .. }));
    assert_eq!(pos(&e), (3, 1));
    assert!(e.to_string().contains("expected '}'"), "{e}");

    let e = err("a = 1\n  b c\n");
    assert_eq!(pos(&e), (2, 5));
    assert!(
        e.to_string().contains("expected '=', '{' or ':' after 'b'"),
        "{e}"
    );
    assert!(e.to_string().starts_with("test.conf:2:5:"), "{e}");

    let e = err("x = \"open\n\n");
    assert_eq!(pos(&e), (1, 5));
    assert!(e.to_string().contains("unterminated string"));

    let e = err("}\n");
    assert_eq!(pos(&e), (1, 1));

    let e = err("\"a\" = b\n");
    assert!(e.to_string().contains("unexpected string"));

    let e = err("a.b = c\n");
    assert_eq!(pos(&e), (1, 2));

    let e = err("s : { }\n");
    assert!(
        e.to_string().contains("expected the name of a section"),
        "{e}"
    );
}

#[test]
fn secrets_are_redacted_in_debug() {
    let s = parse("secrets { ike { secret = hunter2\n id = me } }");
    let dbg = format!("{s:?}");
    assert!(!dbg.contains("hunter2"), "{dbg}");
    assert!(dbg.contains("<redacted>"));
    assert!(dbg.contains("\"me\""));
}

#[test]
fn includes_with_globs() {
    let dir = tempdir("inc");
    std::fs::create_dir_all(dir.join("conf.d/sub")).unwrap();
    std::fs::write(
        dir.join("main.conf"),
        "a = main\ns {\n  include conf.d/*.conf\n}\ninclude \"conf.d/sub/x?.conf\"\ninclude nothing/*.conf\nz = last\n",
    )
    .unwrap();
    std::fs::write(dir.join("conf.d/1.conf"), "k1 = one\na = inner\n").unwrap();
    std::fs::write(
        dir.join("conf.d/2.conf"),
        "k2 = two\ninclude sub/[x]1.conf\n",
    )
    .unwrap();
    std::fs::write(dir.join("conf.d/ignored.txt"), "bad syntax {{{").unwrap();
    std::fs::write(dir.join("conf.d/sub/x1.conf"), "deep = yes\n").unwrap();
    std::fs::write(dir.join("conf.d/sub/x2.conf"), "top = yes\n").unwrap();

    let mut w = Vec::new();
    let s = parse_file(&dir.join("main.conf"), &mut w).unwrap();
    let sec = s.section("s").unwrap();
    assert_eq!(sec.value("k1"), Some("one"));
    assert_eq!(sec.value("a"), Some("inner"));
    assert_eq!(sec.value("k2"), Some("two"));
    // Nested include relative to conf.d/2.conf.
    assert_eq!(sec.value("deep"), Some("yes"));
    assert!(sec.get("deep").unwrap().location.file.ends_with("x1.conf"));
    assert_eq!(s.value("top"), Some("yes"));
    assert_eq!(s.value("a"), Some("main"));
    assert_eq!(s.value("z"), Some("last"));
    // x1.conf also matches x?.conf at the top level.
    assert_eq!(s.value("deep"), Some("yes"));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].message.contains("matched no files"));
    assert_eq!(w[0].location.line, 6);
}

#[test]
fn include_cycle_is_an_error() {
    let dir = tempdir("cycle");
    std::fs::write(dir.join("a.conf"), "include a.conf\n").unwrap();
    let mut w = Vec::new();
    let e = parse_file(&dir.join("a.conf"), &mut w).unwrap_err();
    assert!(e.to_string().contains("nested"), "{e}");
}

#[test]
fn included_file_errors_name_the_file() {
    let dir = tempdir("incerr");
    std::fs::write(dir.join("main.conf"), "s {\ninclude bad.conf\n}\n").unwrap();
    std::fs::write(dir.join("bad.conf"), "ok = 1\n}\n").unwrap();
    let e = parse_file(&dir.join("main.conf"), &mut Vec::new()).unwrap_err();
    let l = e.location().unwrap();
    assert!(l.file.ends_with("bad.conf"));
    assert_eq!(l.line, 2);
}

#[test]
fn printing_round_trips() {
    let s =
        parse("a = \"x\\ny \\\"z\\\"\"\nb =\nsec : r1, r2.x {\n c = 1\n sub { d = \"\\t\" } }\n");
    let text = s.to_string();
    let again = parse(&text);
    assert_eq!(again.to_string(), text);
    assert_eq!(again.value("a"), Some("x\ny \"z\""));
    assert_eq!(again.section("sec").unwrap().references, ["r1", "r2.x"]);
}

pub fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("vtid-config-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
