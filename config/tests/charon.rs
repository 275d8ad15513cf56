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
fn charon_loggers_become_vtids_outputs() {
    let l = load(
        "charon {\n syslog {\n  identifier = charon\n  daemon {\n   ike_name = yes\n   \
         default = 1\n   ike = 2\n  }\n  auth {\n   default = -1\n  }\n }\n \
         filelog {\n  f {\n   path = /var/log/charon.log\n   default = 0\n   knl = 3\n  }\n }\n}\n",
    );
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let d = &l.config.daemon;
    let s = d.syslog.as_ref().expect("charon.syslog read");
    assert_eq!(s.identifier, "charon");
    assert_eq!(s.targets.len(), 2);
    let daemon = &s.targets[0];
    assert!(daemon.ike_name);
    assert_eq!(daemon.levels.subsystems.get("ike"), Some(&2));
    assert_eq!(s.targets[1].levels.default, Some(-1));
    assert_eq!(d.filelog.len(), 1);
    assert_eq!(d.filelog[0].path, "/var/log/charon.log");
    assert_eq!(d.filelog[0].levels.subsystems.get("knl"), Some(&3));
    // An unknown logger key is named with charon's path.
    let l = load("charon {\n filelog {\n  f {\n   path = /tmp/x.log\n   bogus = 1\n  }\n }\n}\n");
    assert!(
        l.warnings.iter().any(|w| w
            .to_string()
            .contains("t.conf:5:4: warning: unknown key 'charon.filelog.f.bogus'")),
        "{:?}",
        l.warnings
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
