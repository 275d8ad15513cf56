//! Loading realistic swanctl.conf files into the typed model.

use std::path::PathBuf;
use std::time::Duration;

use config::{
    load_file, load_str, Action, ConfigError, CopyDscp, Dataplane, Fragmentation, HostSpec,
    HwOffload, IfId, IkeVersion, Mark, MarkValue, Mode, SecretKind, SendCert, Unique,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn psk_site_to_site() {
    let loaded = load_file(data("psk-site-to-site.conf")).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = &loaded.config.connections[0];
    assert_eq!(c.name, "gw-gw");
    assert_eq!(c.version, IkeVersion::V2);
    assert_eq!(
        c.local_addrs,
        [HostSpec::Addr("192.168.0.1".parse().unwrap())]
    );
    assert_eq!(
        c.remote_addrs,
        [
            HostSpec::Dns("moon.strongswan.org".into()),
            HostSpec::Addr("192.168.0.2".parse().unwrap())
        ]
    );
    assert_eq!(
        c.proposals,
        ["aes128-sha256-x25519", "aes256gcm16-prfsha384-ecp384"]
    );
    assert!(!c.mobike);
    assert_eq!(c.dpd_delay, secs(30));
    assert_eq!(c.local[0].auth, "psk");
    assert_eq!(c.local[0].id.as_deref(), Some("sun.strongswan.org"));
    assert_eq!(c.remote[0].id.as_deref(), Some("moon.strongswan.org"));
    // reauth_time only: rekey disabled, over 10% of reauth, rand = over.
    let l = c.lifetimes();
    assert_eq!(
        (l.rekey, l.reauth, l.over, l.rand),
        (secs(0), secs(10800), secs(1080), secs(1080))
    );

    let net = &c.children[0];
    assert_eq!(net.name, "net-net");
    assert_eq!(net.local_ts, ["10.2.0.0/16"]);
    assert_eq!(net.esp_proposals, ["aes128gcm128-x25519"]);
    assert_eq!(
        net.start_action,
        Action {
            trap: true,
            start: true
        }
    );
    assert_eq!(
        net.dpd_action,
        Action {
            trap: false,
            start: true
        }
    );
    assert_eq!(
        net.updown.as_deref(),
        Some("/usr/local/libexec/ipsec/_updown iptables")
    );
    let l = net.lifetimes();
    assert_eq!(
        (l.rekey_time, l.life_time, l.rand_time),
        (secs(5400), secs(5940), secs(540))
    );

    // life_time only: rekey = life / 1.1.
    let net6 = &c.children[1];
    let l = net6.lifetimes();
    assert_eq!(
        (l.rekey_time, l.life_time, l.rand_time),
        (secs(6545), secs(7200), secs(655))
    );

    let s = &loaded.config.secrets;
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].kind, SecretKind::Ike);
    assert_eq!(s[0].ids, ["sun.strongswan.org", "moon.strongswan.org"]);
    assert_eq!(
        s[0].secret.expose(),
        &[0x45, 0xa3, 0x07, 0x59, 0xdf, 0x97, 0xdc, 0x26, 0xa1, 0x5b, 0x88, 0xff]
    );
    assert_eq!(s[1].secret.expose(), b"This is a \"quoted\" secret");
    assert_eq!(s[2].ids.len(), 0);
    assert_eq!(s[2].secret.len(), 24);
    let dbg = format!("{:?}", loaded.config);
    assert!(!dbg.contains("quoted"), "secrets leak into Debug");
}

#[test]
fn ip_ids_any_and_defaults() {
    let loaded = load_file(data("ip-ids-any.conf")).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let cfg = &loaded.config;
    let rw = cfg.connection("roadwarrior").unwrap();
    assert_eq!(rw.remote_addrs, [HostSpec::Any(None)]);
    assert_eq!(rw.local_addrs.len(), 2);
    assert_eq!(rw.unique, Unique::Replace);
    assert_eq!(rw.keyingtries, 0);
    assert!(rw.encap);
    assert_eq!(rw.fragmentation, Fragmentation::Accept);
    assert_eq!(rw.send_cert, SendCert::Always);
    assert_eq!(rw.remote[0].id, None);
    // Default IKE lifetimes: 4h rekey, over 24m, rand 24m.
    let l = rw.lifetimes();
    assert_eq!(
        (l.rekey, l.reauth, l.over, l.rand),
        (secs(14400), secs(0), secs(1440), secs(1440))
    );

    let lan = &rw.children[0];
    assert_eq!(lan.local_ts, ["10.0.0.0/24", "10.0.1.0/24"]);
    assert_eq!(lan.mode, Mode::Transport);
    assert_eq!(
        lan.close_action,
        Action {
            trap: true,
            start: false
        }
    );
    let (l, r) = cfg.traffic_selectors(rw, lan);
    assert_eq!(l, ["10.0.0.0/24", "10.0.1.0/24"]);
    assert_eq!(r, ["dynamic"]);

    let dmz = &rw.children[1];
    assert_eq!(
        dmz.mark_in,
        Mark {
            value: MarkValue::Value(0x10),
            mask: 0xff
        }
    );
    assert_eq!(dmz.mark_out.value, MarkValue::Unique);
    assert_eq!(dmz.set_mark_in.value, MarkValue::Same);
    assert_eq!(dmz.replay_window, 64);
    assert_eq!(dmz.copy_dscp, CopyDscp::Yes);
    assert_eq!(dmz.hw_offload, HwOffload::Auto);
    let l = dmz.lifetimes();
    assert_eq!(l.rekey_bytes, 500 << 20);
    assert_eq!(l.life_bytes, ((500u64 << 20) as f64 * 1.1) as u64);
    assert_eq!(l.life_packets, 1_000_000);
    assert_eq!(l.rekey_packets, 909_090);
    // Child defaults.
    assert_eq!(
        (l.rekey_time, l.life_time, l.rand_time),
        (secs(3600), secs(3960), secs(360))
    );

    let rp = cfg.connection("range-peer").unwrap();
    assert!(matches!(rp.remote_addrs[0], HostSpec::Range(..)));
    assert!(matches!(rp.remote_addrs[1], HostSpec::Subnet(..)));
    assert_eq!(rp.local[0].certs, ["moonCert.pem"]);
    assert_eq!(rp.remote[0].cacerts, ["caCert.pem"]);
    let all = &rp.children[0];
    // Documented defaults of a bare child.
    assert_eq!(all.esp_proposals, ["default"]);
    assert_eq!(all.mode, Mode::Tunnel);
    assert_eq!(all.start_action, Action::NONE);
    assert_eq!(all.close_action, Action::NONE);
    assert_eq!(all.dpd_action, Action::NONE);
    assert!(all.policies && !all.policies_fwd_out);
    assert!(all.copy_df && all.copy_ecn);
    assert_eq!(all.copy_dscp, CopyDscp::Out);
    assert_eq!(all.replay_window, 32);
    assert_eq!(all.reqid, 0);
    assert_eq!(all.mark_in, Mark::default());
    // Documented defaults of a connection.
    assert_eq!(rp.version, IkeVersion::Any);
    assert_eq!(rp.local_addrs, [HostSpec::Any(None)]);
    assert_eq!((rp.local_port, rp.remote_port), (500, 500));
    assert_eq!(rp.proposals, ["default"]);
    assert!(rp.mobike && rp.pull && rp.send_certreq && !rp.encap && !rp.aggressive);
    assert_eq!(rp.dpd_delay, secs(0));
    assert_eq!(rp.fragmentation, Fragmentation::Yes);
    assert_eq!(rp.keyingtries, 1);
    assert_eq!(rp.unique, Unique::No);
    assert_eq!(rp.if_id_in, IfId::None);
}

#[test]
fn vtid_routed_interfaces() {
    let loaded = load_file(data("vtid-routed.conf")).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let cfg = &loaded.config;
    let d = &cfg.daemon;
    assert_eq!(d.retransmit_tries, 3);
    assert!(!d.make_before_break);
    assert_eq!(d.reqid_base, 5);
    assert_eq!(d.dataplane, Dataplane::Xfrm);
    assert_eq!(d.xfrm_interface_type, config::XfrmInterfaceType::Xfrmi);
    assert_eq!(d.vici.socket, "unix:///run/vtid-test.vici");
    assert_eq!(d.vici.mode, 0o660);
    assert_eq!(d.vici.group.as_deref(), Some("wheel"));
    assert_eq!(d.log.level("ike"), 2);
    assert_eq!(d.log.level("knl"), 3);
    assert_eq!(d.log.level("cfg"), 1);
    assert_eq!(d.retransmit_timeout, 4.0);
    assert_eq!(d.cookie_threshold, 30);

    let i7 = &cfg.interfaces[0];
    assert_eq!(i7.name, "ipsec7");
    assert_eq!(i7.reqid, 7);
    assert_eq!(i7.local_addrs.len(), 2);
    assert_eq!(i7.routes.len(), 2);
    assert_eq!(i7.mtu, 1420);
    assert_eq!(
        i7.monitor,
        config::Monitor::Address("10.6.106.2".parse().unwrap())
    );
    assert!(i7.mss_clamp);
    assert_eq!(i7.description.as_deref(), Some("Site B"));
    assert_eq!(cfg.interfaces[1].mtu, 1400);
    assert_eq!(cfg.interfaces[1].monitor, config::Monitor::Gateway);

    let c = cfg.connection("site-b").unwrap();
    let vti = &c.children[0];
    assert_eq!(cfg.interface_for_child(c, vti).unwrap().name, "ipsec7");
    let (l, r) = cfg.traffic_selectors(c, vti);
    assert_eq!(l, ["0.0.0.0/0", "::/0"]);
    assert_eq!(r, ["0.0.0.0/0", "::/0"]);
    let by_if = &c.children[1];
    assert_eq!(cfg.interface_for_child(c, by_if).unwrap().name, "ipsec8");
    let pb = &c.children[2];
    assert!(cfg.interface_for_child(c, pb).is_none());
    assert_eq!(cfg.traffic_selectors(c, pb).0, ["dynamic"]);

    // Automatic reqids start at reqid_base and skip interface reqids.
    let mut alloc = cfg.reqid_allocator();
    let got: Vec<u32> = (0..4).map(|_| alloc.allocate().unwrap()).collect();
    assert_eq!(got, [5, 6, 9, 10]);
    assert!(cfg.reserved_reqids().contains(&7));
}

#[test]
fn references_and_includes() {
    let loaded = load_file(data("with-includes.conf")).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let cfg = &loaded.config;
    let base = cfg.connection("base").unwrap();
    assert_eq!(base.proposals, ["aes256-sha256-modp2048"]);
    assert_eq!(base.local[0].auth, "psk");
    assert_eq!(
        base.remote_addrs,
        [HostSpec::Addr("192.0.2.99".parse().unwrap())]
    );
    let extra = cfg.connection("extra").unwrap();
    assert_eq!(extra.children[0].name, "c");
    assert_eq!(cfg.secrets[0].name, "ike-extra");
    assert_eq!(cfg.secrets[0].secret.expose(), b"extra-secret");
}

fn load_err(text: &str) -> ConfigError {
    load_str(text, "t.conf").expect_err("should fail")
}

#[test]
fn bad_values_are_typed_errors_with_positions() {
    let e = load_err("connections {\n  c {\n    rekey_time = 1x\n  }\n}\n");
    match &e {
        ConfigError::Value {
            location,
            key,
            message,
        } => {
            assert_eq!((location.line, location.column), (3, 5));
            assert_eq!(key, "connections.c.rekey_time");
            assert!(
                message.contains("expected a duration like 1h, 30m, 45s"),
                "{message}"
            );
            assert!(message.contains("'1x'"));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().starts_with("t.conf:3:5: "), "{e}");

    let e = load_err("connections { c { children { x { mode = bogus } } } }");
    assert!(
        e.to_string().contains("connections.c.children.x.mode"),
        "{e}"
    );
    assert!(e.to_string().contains("tunnel"), "{e}");
    let e = load_err("connections { c { mobike = perhaps } }");
    assert!(e.to_string().contains("expected yes/no"), "{e}");
    let e = load_err("connections { c { children { x { mark_in = 1/zz } } } }");
    assert!(e.to_string().contains("expected a mark"), "{e}");
    let e = load_err("connections { c { children { x { start_action = hold } } } }");
    assert!(e.to_string().contains("trap|start"), "{e}");
}

#[test]
fn secret_errors_do_not_leak() {
    let e = load_err("secrets {\n ike-x {\n  secret = 0xnothexhunter2\n }\n}\n");
    let msg = e.to_string();
    assert!(msg.contains("secrets.ike-x.secret"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(!format!("{e:?}").contains("hunter2"));
    let e = load_err("secrets { ike-x { id = a } }");
    assert!(e.to_string().contains("has no 'secret'"));
}

#[test]
fn unknown_and_unsupported_keys_warn_with_positions() {
    let text = "\
connections {
  c {
    rekey_tme = 1h
    ocsp = strict
    local {
      auth = psk
      eap_id = bob
    }
    weird {
    }
    children {
      x {
        label = system_u:object_r:ipsec_spd_t:s0
        tfc_padding = mtu
        bogus = 1
      }
    }
  }
}
pools {
  p { addrs = 10.0.0.0/24 }
}
authorities {
  ca { cacert = ca.pem }
}
secrets {
  rsa-key { file = key.pem }
  eap-bob { id = bob
    secret = x }
  foo { secret = y }
}
stray = 1
vtid {
  unknown_daemon_key = 3
}
";
    let loaded = load_str(text, "w.conf").unwrap();
    let w: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    let has = |needle: &str, line: u32| {
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.message.contains(needle) && w.location.line == line),
            "no warning about {needle} at line {line}: {w:#?}"
        )
    };
    has("connections.c.rekey_tme", 3);
    has("connections.c.ocsp", 4);
    has("connections.c.local.eap_id", 7);
    has("connections.c.weird", 9);
    has("connections.c.children.x.label", 13);
    has("connections.c.children.x.tfc_padding", 14);
    has("connections.c.children.x.bogus", 15);
    has("secrets.rsa-key", 27);
    has("secrets.eap-bob", 28);
    has("secrets.foo", 30);
    has("stray", 32);
    has("vtid.unknown_daemon_key", 34);
    assert!(
        w.iter()
            .any(|s| s.starts_with("w.conf:3:5: warning: unknown key 'connections.c.rekey_tme'")),
        "{w:?}"
    );
    for s in &w {
        assert!(!s.contains("secret = "), "{s}");
    }
    // Unknown keys never stop loading.
    assert_eq!(loaded.config.connections[0].local[0].auth, "psk");
    assert_eq!(loaded.config.secrets.len(), 1);
    assert_eq!(loaded.config.secrets[0].kind, SecretKind::Eap);
    // Pools are read (issue 17), without a warning.
    assert_eq!(loaded.config.pools[0].name, "p");
    assert!(!w.iter().any(|s| s.contains("pools")), "{w:?}");
    // Authorities are read (issue 14); a key secret without a passphrase
    // warns.
    assert_eq!(
        loaded.config.authorities[0].cacert.as_deref(),
        Some("ca.pem")
    );
    assert!(loaded.config.key_secrets.is_empty());
}

#[test]
fn ikev1_and_aggressive_are_read_for_the_daemon_to_refuse() {
    // The daemon refuses the connection, naming IKEv1, with its other
    // reasons (vtid/src/convert.rs); the config crate reads the values
    // without saying it a second time.
    let loaded = load_str("connections { c { version = 1\n aggressive = yes } }", "t").unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = &loaded.config.connections[0];
    assert_eq!(c.version, config::IkeVersion::V1);
    assert!(c.aggressive);
}

#[test]
fn interface_route_metric_and_its_default() {
    // Default: position in Config::interfaces plus one (vtid.interfaces
    // first, then the top-level section), so the first is preferred.
    let loaded = load_str(
        "vtid { interfaces { ipsec5 { reqid = 5 } } }\n\
         interfaces { ipsec1 { reqid = 1\n routes = 10.2.0.0/24 }\n\
         ipsec2 { reqid = 2\n routes = 10.2.0.0/24 }\n\
         ipsec3 { reqid = 3\n route_metric = 0x10 } }",
        "t",
    )
    .unwrap();
    let m: Vec<(&str, u32)> = loaded
        .config
        .interfaces
        .iter()
        .map(|i| (i.name.as_str(), i.route_metric))
        .collect();
    assert_eq!(
        m,
        [("ipsec5", 1), ("ipsec1", 2), ("ipsec2", 3), ("ipsec3", 16)]
    );
    assert_eq!(config::default_route_metric(0), 1);

    // An explicit metric reverses the preference.
    let loaded = load_str(
        "interfaces { ipsec1 { reqid = 1\n routes = 10.2.0.0/24\n route_metric = 200 }\n\
         ipsec2 { reqid = 2\n routes = 10.2.0.0/24\n route_metric = 100 } }",
        "t",
    )
    .unwrap();
    assert_eq!(loaded.config.interfaces[0].route_metric, 200);
    assert_eq!(loaded.config.interfaces[1].route_metric, 100);

    // The example of vtid/README-config.md.
    let readme = "interfaces {
    ipsec1 {                    # to peer A: preferred (route_metric 1 by default)
        reqid       = 1
        local_addr  = 10.6.101.1/30
        remote_addr = 10.6.101.2
        routes      = 10.2.0.0/24
    }
    ipsec2 {                    # to peer B: backup (route_metric 2 by default)
        reqid        = 2
        local_addr   = 10.6.102.1/30
        remote_addr  = 10.6.102.2
        routes       = 10.2.0.0/24
        # route_metric = 100    # explicit; 1 would collide with ipsec1's
    }
}";
    let loaded = load_str(readme, "t").unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let m: Vec<u32> = loaded
        .config
        .interfaces
        .iter()
        .map(|i| i.route_metric)
        .collect();
    assert_eq!(m, [1, 2]);
    let e = load_err(&readme.replace("# route_metric = 100", "route_metric = 1"));
    assert!(
        e.to_string()
            .contains("both route 10.2.0.0/24 with route_metric 1"),
        "{e}"
    );

    // Not a number, 0, too large: errors at the key's line.
    let e = load_err("interfaces { ipsec1 { reqid = 1\n route_metric = low } }");
    assert!(e.to_string().contains("expected an unsigned 32-bit"), "{e}");
    assert!(e.to_string().contains("route_metric"), "{e}");
    assert_eq!(e.location().unwrap().line, 2);
    let e = load_err("interfaces { ipsec1 { reqid = 1\n route_metric = 0 } }");
    assert!(e.to_string().contains("from 1 to 4294967295"), "{e}");
    assert_eq!(e.location().unwrap().line, 2);
    let e = load_err("interfaces { ipsec1 { reqid = 1\n route_metric = 4294967296 } }");
    assert!(e.to_string().contains("route_metric"), "{e}");

    // The same prefix with the same metric would replace each other.
    let e = load_err(
        "interfaces { ipsec1 { reqid = 1\n routes = 10.2.0.0/24, 10.9.0.0/16\n route_metric = 7 }\n\
         ipsec2 { reqid = 2\n routes = 10.2.0.5/24\n route_metric = 7 } }",
    );
    assert!(
        e.to_string()
            .contains("'ipsec1' and 'ipsec2' both route 10.2.0.5/24 with route_metric 7"),
        "{e}"
    );
    assert_eq!(e.location().unwrap().line, 4, "ipsec2's section");
    // ... an explicit metric equal to another's default too.
    let e = load_err(
        "interfaces { ipsec1 { reqid = 1\n routes = 10.2.0.0/24 }\n\
         ipsec2 { reqid = 2\n routes = 10.2.0.0/24\n route_metric = 1 } }",
    );
    assert!(e.to_string().contains("route_metric 1"), "{e}");
    // Same metric, different prefixes: fine.
    load_str(
        "interfaces { ipsec1 { reqid = 1\n routes = 10.2.0.0/24\n route_metric = 7 }\n\
         ipsec2 { reqid = 2\n routes = 10.2.0.0/25\n route_metric = 7 } }",
        "t",
    )
    .unwrap();
}

#[test]
fn interface_validation() {
    let ok =
        "interfaces { ipsec1 { reqid = 1\n local_addr = 10.0.0.1/30\n remote_addr = 10.0.0.9 } }";
    let loaded = load_str(ok, "t").unwrap();
    assert_eq!(
        loaded.warnings.len(),
        1,
        "remote outside local subnet warns"
    );
    assert!(loaded.warnings[0].message.contains("not inside"));

    let e = load_err("interfaces { vti0 { reqid = 1 } }");
    assert!(e.to_string().contains("ipsecN"), "{e}");
    let e = load_err("interfaces { ipsec1 { reqid = 3 }\n ipsec2 { reqid = 3 } }");
    assert!(e.to_string().contains("both use reqid 3"), "{e}");
    assert_eq!(e.location().unwrap().line, 2);
    let e = load_err("interfaces { ipsec1 { reqid = 1\n local_addr = 10.0.0.1 } }");
    assert!(e.to_string().contains("prefix length"), "{e}");
    let e = load_err("interfaces { ipsec1 { reqid = 1\n mtu = 1000 } }");
    assert!(e.to_string().contains("1280"), "{e}");
    let e = load_err("interfaces { ipsec1 { local_addr = 10.0.0.1/30 } }");
    assert!(e.to_string().contains("reqid"), "{e}");
    let e = load_err(
        "interfaces { ipsec1 { reqid = 1 } }\nvtid { interfaces { ipsec1 { reqid = 2 } } }",
    );
    assert!(e.to_string().contains("both"), "{e}");
    // reqid and if_id naming different interfaces.
    let e = load_err(
        "interfaces { ipsec1 { reqid = 1 }\n ipsec2 { reqid = 2 } }\n\
         connections { c { children { x { reqid = 1\n if_id_in = 2 } } } }",
    );
    assert!(e.to_string().contains("names interface"), "{e}");
    // An explicit child reqid equal to an interface's is fine (that is how
    // a child is routed); inside vtid works too.
    let loaded = load_str(
        "vtid { interfaces { ipsec4 { reqid = 4 } } }\nconnections { c { if_id_out = 4\n children { x { } } } }",
        "t",
    )
    .unwrap();
    let cfg = &loaded.config;
    let c = &cfg.connections[0];
    assert_eq!(
        cfg.interface_for_child(c, &c.children[0]).unwrap().name,
        "ipsec4"
    );
}

#[test]
fn ike_lifetime_derivations() {
    let l = |body: &str| {
        let cfg = load_str(&format!("connections {{ c {{ {body} }} }}"), "t")
            .unwrap()
            .config;
        let l = cfg.connections[0].lifetimes();
        (
            l.rekey.as_secs(),
            l.reauth.as_secs(),
            l.over.as_secs(),
            l.rand.as_secs(),
        )
    };
    assert_eq!(l(""), (14400, 0, 1440, 1440));
    assert_eq!(l("rekey_time = 1h"), (3600, 0, 360, 360));
    assert_eq!(
        l("rekey_time = 1h\n reauth_time = 10h"),
        (3600, 36000, 3600, 1800)
    );
    assert_eq!(l("rekey_time = 0"), (0, 0, 0, 0));
    assert_eq!(l("over_time = 5m\n rand_time = 1m"), (14400, 0, 300, 60));
}

#[test]
fn child_lifetime_derivations() {
    let l = |body: &str| {
        let cfg = load_str(
            &format!("connections {{ c {{ children {{ x {{ {body} }} }} }} }}"),
            "t",
        )
        .unwrap()
        .config;
        let l = cfg.connections[0].children[0].lifetimes();
        (
            l.rekey_time.as_secs(),
            l.life_time.as_secs(),
            l.rand_time.as_secs(),
        )
    };
    assert_eq!(l(""), (3600, 3960, 360));
    assert_eq!(l("rekey_time = 30m"), (1800, 1980, 180));
    // strongSwan divides in floating point and truncates: 1100 / 1.1 = 999.99…
    assert_eq!(l("life_time = 1100"), (999, 1100, 101));
    assert_eq!(l("life_time = 2h"), (6545, 7200, 655));
    assert_eq!(l("rekey_time = 1h\n life_time = 1h"), (3600, 3600, 0));
    assert_eq!(l("rekey_time = 1h\n rand_time = 0"), (3600, 3960, 0));
}

#[test]
fn vici_path_shares_the_conversion() {
    // The VICI socket builds a Section from a load-conn message and calls
    // the same function.
    let mut w = Vec::new();
    let root = config::settings::parse_str(
        "c { remote_addrs = 192.0.2.1\n children { x { } } }",
        "vici",
        &mut w,
    )
    .unwrap();
    let conn = config::connection_from_section(root.section("c").unwrap(), &mut w).unwrap();
    assert_eq!(conn.name, "c");
    assert_eq!(conn.children.len(), 1);
    assert!(w.is_empty());
}

#[test]
fn serde_derives_exist() {
    fn assert_serde<T: serde::Serialize + for<'de> serde::Deserialize<'de>>() {}
    assert_serde::<config::Config>();
    assert_serde::<config::Connection>();
    assert_serde::<config::SharedSecret>();
}

#[test]
fn vtid_ports_and_fragment_size() {
    let d = load_str(
        "vtid {\n port = 1500\n port_nat_t = 14500\n fragment_size = 1400\n}\n",
        "t",
    )
    .unwrap();
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    let d = d.config.daemon;
    assert_eq!((d.port, d.port_nat_t, d.fragment_size), (1500, 14500, 1400));
    let d = load_str("", "t").unwrap().config.daemon;
    assert_eq!((d.port, d.port_nat_t, d.fragment_size), (500, 4500, 1280));
    let e = load_str("vtid {\n port = 4500\n}\n", "t").unwrap_err();
    assert!(e.to_string().contains("must differ"), "{e}");
    assert!(load_str("vtid {\n port = 0\n}\n", "t").is_err());
}

#[test]
fn interface_monitor_off() {
    let text = "interfaces {\n ipsec3 {\n  reqid = 3\n  local_addr = 10.6.3.1/30\n  remote_addr = 10.6.3.2\n  monitor = off\n }\n}\n";
    let loaded = config::load_str(text, "mon.conf").unwrap();
    assert_eq!(loaded.config.interfaces[0].monitor, config::Monitor::Off);
}

#[test]
fn vtid_xfrm_interface_type() {
    let d = |t: &str| load_str(t, "t.conf").map(|l| l.config.daemon.xfrm_interface_type);
    use config::XfrmInterfaceType as T;
    assert_eq!(d("vtid {\n}\n").unwrap(), T::Xfrmi);
    assert_eq!(
        d("vtid {\n xfrm_interface_type = xfrmi\n}\n").unwrap(),
        T::Xfrmi
    );
    assert_eq!(
        d("vtid {\n xfrm_interface_type = vti\n}\n").unwrap(),
        T::Vti
    );
    let e = d("vtid {\n xfrm_interface_type = gre\n}\n").unwrap_err();
    assert!(e.to_string().contains("xfrm_interface_type"), "{e}");
}

#[test]
fn vtid_tun_offload() {
    let d = |t: &str| load_str(t, "t.conf").map(|l| l.config.daemon.tun_offload);
    assert!(d("vtid {\n}\n").unwrap());
    assert!(!d("vtid {\n tun_offload = no\n}\n").unwrap());
    assert!(d("vtid {\n tun_offload = yes\n}\n").unwrap());
    let e = d("vtid {\n tun_offload = maybe\n}\n").unwrap_err();
    assert!(e.to_string().contains("tun_offload"), "{e}");
}

#[test]
fn vtid_dataplane_threads() {
    let d = |t: &str| load_str(t, "t.conf").map(|l| l.config.daemon.dataplane_threads);
    assert_eq!(d("vtid {\n}\n").unwrap(), 0);
    assert_eq!(d("vtid {\n dataplane_threads = 3\n}\n").unwrap(), 3);
    for bad in ["65", "-1", "many"] {
        let e = d(&format!("vtid {{\n dataplane_threads = {bad}\n}}\n")).unwrap_err();
        assert!(e.to_string().contains("dataplane_threads"), "{e}");
    }
}
