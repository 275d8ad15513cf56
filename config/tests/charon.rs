//! strongswan.conf's `charon { }` section: the keys vtid implements keep
//! strongSwan's meaning, the others are named once (issue 15 §1).

use std::time::Duration;

use config::{load_files, load_str, Daemon};

fn load(text: &str) -> config::Loaded {
    load_str(text, "t.conf").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn charon_keys_with_strongswans_meaning() {
    let l = load(
        "charon {\n install_routes = no\n ignore_acquire_ts = yes\n make_before_break = no\n \
         retransmit_tries = 3\n retransmit_timeout = 2\n retransmit_base = 1.5\n \
         init_limit_half_open = 1000\n port = 1500\n port_nat_t = 14500\n keep_alive = 30s\n}\n",
    );
    let d = &l.config.daemon;
    assert!(!d.install_routes);
    assert!(d.ignore_acquire_ts);
    assert!(!d.make_before_break);
    assert_eq!(d.retransmit_tries, 3);
    assert_eq!(d.retransmit_timeout, 2.0);
    assert_eq!(d.retransmit_base, 1.5);
    assert_eq!(d.init_limit_half_open, 1000);
    assert_eq!((d.port, d.port_nat_t), (1500, 14500));
    assert_eq!(d.keep_alive, Duration::from_secs(30));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    // The defaults stay strongSwan's.
    let d = Daemon::default();
    assert!(d.install_routes && !d.ignore_acquire_ts);
}

#[test]
fn vtid_section_overrides_charon() {
    let l = load(
        "charon {\n retransmit_tries = 3\n install_routes = no\n}\n\
         vtid {\n retransmit_tries = 7\n}\n",
    );
    assert_eq!(l.config.daemon.retransmit_tries, 7);
    assert!(!l.config.daemon.install_routes, "kept from charon");
}

#[test]
fn the_rest_is_named_once_with_its_place() {
    let l = load(
        "charon {\n threads = 16\n cisco_unity = no\n plugins {\n  unity {\n   load = no\n  }\n  \
         attr {\n   dns = 192.0.2.53\n  }\n }\n dataplane = xfrm\n}\n",
    );
    let w: Vec<String> = l.warnings.iter().map(|w| w.to_string()).collect();
    let has = |s: &str| w.iter().filter(|x| x.contains(s)).count();
    assert_eq!(has("t.conf:2:2: warning: 'charon.threads'"), 1, "{w:?}");
    assert_eq!(has("t.conf:3:2: warning: 'charon.cisco_unity'"), 1, "{w:?}");
    assert_eq!(has("'charon.plugins.unity'"), 1, "{w:?}");
    assert_eq!(
        has("t.conf:8:3: warning: 'charon.plugins.attr'"),
        1,
        "{w:?}"
    );
    // vtid's own keys are not strongSwan's: not read from charon.
    assert_eq!(has("'charon.dataplane'"), 1, "{w:?}");
    assert_eq!(l.config.daemon.dataplane, config::Dataplane::Auto);
    assert_eq!(w.len(), 5, "{w:?}");
}

#[test]
fn logger_levels_merge_and_a_silenced_logger_does_not_lower_them() {
    let l = load(
        "charon {\n syslog {\n  identifier = charon\n  daemon {\n   ike_name = yes\n   \
         default = 1\n   ike = 2\n   knl = 0\n  }\n  auth {\n   default = -1\n  }\n }\n \
         filelog {\n  f {\n   path = /var/log/charon.log\n   default = 0\n   knl = 3\n  }\n }\n}\n",
    );
    let log = &l.config.daemon.log;
    assert_eq!(log.default, 1);
    assert_eq!(log.level("ike"), 2);
    assert_eq!(log.level("knl"), 3);
    assert_eq!(log.level("cfg"), 1);
    let w: Vec<String> = l.warnings.iter().map(|w| w.to_string()).collect();
    // where the output goes is not vtid's: said once per key
    assert!(
        w.iter()
            .any(|x| x.contains("'charon.syslog.daemon.ike_name'")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|x| x.contains("t.conf:16:4: warning: 'charon.filelog.f.path'")),
        "{w:?}"
    );
    assert!(
        w.iter().any(|x| x.contains("'charon.syslog.identifier'")),
        "{w:?}"
    );
}

#[test]
fn a_strongswan_conf_given_to_vtid() {
    let dir = std::env::temp_dir().join(format!("vtid-charon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ss = dir.join("strongswan.conf");
    let main = dir.join("vtid.conf");
    std::fs::write(
        &ss,
        "starter {\n load_warning = no\n}\ncharon {\n install_routes = no\n retransmit_tries = 2\n}\n",
    )
    .unwrap();
    std::fs::write(&main, "vtid {\n retransmit_tries = 4\n}\n").unwrap();
    let l = load_files(&main, Some(&ss)).unwrap();
    assert!(!l.config.daemon.install_routes);
    assert_eq!(l.config.daemon.retransmit_tries, 4, "vtid {{ }} wins");
    let w: Vec<String> = l.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        w.iter().any(|x| x.contains(
            "strongswan.conf:1:1: warning: strongswan.conf section 'starter' is not used by vtid"
        )),
        "{w:?}"
    );
    let l = load_files(&main, None).unwrap();
    assert!(l.config.daemon.install_routes);
    std::fs::remove_dir_all(&dir).unwrap();
}
