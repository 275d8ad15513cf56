//! `eap-radius { }` (strongswan.conf's `charon.plugins.eap-radius` names)
//! under `vtid { }` and under `charon { plugins { } }`: servers, their
//! order, defaults, DAE, and errors with their place.

use std::time::Duration;

use config::{load_str, RadiusHost};
use proptest::prelude::*;

const FULL: &str = "\
vtid {
  eap-radius {
    servers {
      primary {
        address = 192.0.2.5
        secret = s3cret
        auth_port = 11812
        acct_port = 11813
      }
      backup {
        address = 2001:db8::6
        secret = 0x6f74686572
        preference = 10
        nas_identifier = vpn1-b
      }
    }
    accounting = yes
    accounting_interval = 5m
    class_group = yes
    nas_identifier = vpn1
    retransmit_timeout = 3s
    retransmit_tries = 2
    dae {
      enable = yes
      listen = 192.0.2.1
      secret = dae-s3cret
    }
  }
}
";

#[test]
fn full_section() {
    let l = load_str(FULL, "r.conf").unwrap();
    let r = l.config.daemon.radius.as_ref().unwrap();
    // Higher preference first.
    let names: Vec<&str> = r.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["backup", "primary"]);
    let p = &r.servers[1];
    assert_eq!(p.address.to_string(), "192.0.2.5");
    assert_eq!((p.auth_port, p.acct_port), (11812, 11813));
    assert_eq!(p.secret.expose(), b"s3cret");
    let b = &r.servers[0];
    assert_eq!(b.address, RadiusHost::Ip("2001:db8::6".parse().unwrap()));
    assert_eq!(b.secret.expose(), b"other");
    assert_eq!((b.auth_port, b.acct_port), (1812, 1813));
    assert_eq!(b.nas_identifier.as_deref(), Some("vpn1-b"));
    assert!(r.accounting && r.class_group);
    assert_eq!(r.accounting_interval, Duration::from_secs(300));
    assert_eq!(r.nas_identifier, "vpn1");
    assert_eq!(r.retransmit_timeout, Duration::from_secs(3));
    assert_eq!(r.retransmit_tries, 2);
    let dae = r.dae.as_ref().unwrap();
    assert_eq!(dae.port, 3799);
    assert_eq!(dae.listen.to_string(), "192.0.2.1");
    // Secrets never show in Debug, and nothing is left unread.
    assert!(!format!("{r:?}").contains("s3cret"));
    assert!(
        !l.warnings.iter().any(|w| w.to_string().contains("unknown")),
        "{:?}",
        l.warnings
    );
    assert!(l
        .warnings
        .iter()
        .any(|w| w.to_string().contains("not used yet")));
}

#[test]
fn strongswan_conf_form_and_single_server() {
    let text = "\
charon {
  plugins {
    eap-radius {
      server = radius.example.org
      secret = abc
      port = 1645
    }
    attr {
      dns = 1.2.3.4
    }
  }
}
";
    let l = load_str(text, "strongswan.conf").unwrap();
    let r = l.config.daemon.radius.as_ref().unwrap();
    assert_eq!(r.servers.len(), 1);
    assert_eq!(r.servers[0].name, "default");
    assert_eq!(
        r.servers[0].address,
        RadiusHost::Name("radius.example.org".into())
    );
    assert_eq!(r.servers[0].auth_port, 1645);
    assert_eq!(r.nas_identifier, "strongSwan");
    assert!(!r.accounting && r.dae.is_none());
    assert_eq!(r.retransmit_tries, 4);
    // Other plugins are still named as ignored.
    assert!(l
        .warnings
        .iter()
        .any(|w| w.to_string().contains("charon.plugins.attr")));
}

#[test]
fn errors_say_where_and_never_show_secrets() {
    let cases = [
        (
            "vtid {\n eap-radius {\n  servers {\n   a {\n    address = 192.0.2.5\n   }\n  }\n }\n}\n",
            "r.conf:4:4",
            "shared secret",
        ),
        (
            "vtid {\n eap-radius {\n  servers {\n   a {\n    secret = x\n   }\n  }\n }\n}\n",
            "r.conf:4:4",
            "needs its 'address'",
        ),
        (
            "vtid {\n eap-radius {\n  servers {\n   a {\n    address = radius..example.org\n    secret = x\n   }\n  }\n }\n}\n",
            "r.conf:5:",
            "neither an IP address nor a DNS name",
        ),
        (
            "vtid {\n eap-radius {\n  servers {\n   a {\n    address = 192.0.2.5\n    secret = x\n    auth_port = 0\n   }\n  }\n }\n}\n",
            "r.conf:7:",
            "expected a port",
        ),
        (
            "vtid {\n eap-radius {\n  dae {\n   enable = yes\n  }\n }\n}\n",
            "r.conf:3:",
            "needs the 'secret'",
        ),
        (
            "vtid {\n eap-radius {\n  servers {\n   a {\n    address = 192.0.2.5\n    secret = 0xzz\n   }\n  }\n }\n}\n",
            "r.conf:6:",
            "hex",
        ),
    ];
    for (text, place, what) in cases {
        let e = load_str(text, "r.conf").unwrap_err().to_string();
        assert!(e.contains(place) && e.contains(what), "{e}");
        assert!(!e.contains("0xzz"), "{e}");
    }
}

#[test]
fn port_ends() {
    for (p, ok) in [(0, false), (1, true), (65535, true), (65536, false)] {
        let text = format!(
            "vtid {{\n eap-radius {{\n  servers {{\n   a {{\n    address = 192.0.2.5\n    secret = x\n    acct_port = {p}\n   }}\n  }}\n }}\n}}\n"
        );
        assert_eq!(load_str(&text, "r.conf").is_ok(), ok, "{p}");
    }
    for (t, ok) in [(0, false), (1, true), (100, true), (101, false)] {
        let text = format!("vtid {{\n eap-radius {{\n  retransmit_tries = {t}\n }}\n}}\n");
        assert_eq!(load_str(&text, "r.conf").is_ok(), ok, "{t}");
    }
}

proptest! {
    /// Every port from 1 to 65535 is accepted as written, both ends
    /// included; 0 and anything above 65535 are errors.
    #[test]
    fn ports_over_their_range(p in 0u32..70_000) {
        let text = format!(
            "vtid {{\n eap-radius {{\n  servers {{\n   a {{\n    address = 192.0.2.5\n    secret = x\n    auth_port = {p}\n    acct_port = {p}\n   }}\n  }}\n  dae {{\n   enable = yes\n   port = {p}\n   secret = y\n  }}\n }}\n}}\n"
        );
        let r = load_str(&text, "r.conf");
        if (1..=65535).contains(&p) {
            let l = r.unwrap();
            let rad = l.config.daemon.radius.unwrap();
            prop_assert_eq!(u32::from(rad.servers[0].auth_port), p);
            prop_assert_eq!(u32::from(rad.servers[0].acct_port), p);
            prop_assert_eq!(u32::from(rad.dae.unwrap().port), p);
        } else {
            prop_assert!(r.is_err());
        }
    }

    /// retransmit_tries 1..=100 and timeouts above 0 up to 600 s.
    #[test]
    fn retransmit_settings_over_their_range(tries in 0u32..150, secs in 0u64..700) {
        let text = format!(
            "vtid {{\n eap-radius {{\n  retransmit_tries = {tries}\n  retransmit_timeout = {secs}s\n }}\n}}\n"
        );
        let r = load_str(&text, "r.conf");
        let ok = (1..=100).contains(&tries) && (1..=600).contains(&secs);
        prop_assert_eq!(r.is_ok(), ok, "{:?}", r.err());
        if let Ok(l) = r {
            let rad = l.config.daemon.radius.unwrap();
            prop_assert_eq!(rad.retransmit_tries, tries);
            prop_assert_eq!(rad.retransmit_timeout, Duration::from_secs(secs));
        }
    }
}
