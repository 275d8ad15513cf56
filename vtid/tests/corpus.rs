//! The configuration corpus (issue 15): files written in the shapes that
//! real generators and real set-ups produce — pfSense's `ipsec.inc`
//! (site-to-site policy and routed VTI, mobile clients), OPNsense's
//! `Swanctl.php` and legacy generator, 16 of strongSwan's own
//! `testing/tests/*/hosts/*/etc/swanctl/swanctl.conf` scenarios, VyOS's
//! `swanctl.conf.j2` templates and common hand-made layouts (see each
//! file's header). For each: which connections and children load, which
//! are refused and why (the feature named), what is warned, and at which
//! file:line. Files that need certificates, EAP or pools are refused
//! naming that feature (issues 14 and 17); IKEv1 files naming IKEv1.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use vtid::convert::{self, HostEnv, ReqidMap};

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name)
}

/// DNS and routing without the network: two dynamic-DNS names, one of
/// which resolves.
struct LabEnv;

impl HostEnv for LabEnv {
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        match name {
            "hq.dyndns.example.net" => Ok(vec!["198.51.100.40".parse().unwrap()]),
            _ => Err(format!("{name}: no such host")),
        }
    }
    fn source_for(&self, remote: IpAddr) -> Option<IpAddr> {
        Some(if remote.is_ipv4() {
            "203.0.113.1".parse().unwrap()
        } else {
            "2001:db8:1::1".parse().unwrap()
        })
    }
}

/// One corpus file and what vtid makes of it.
struct Case {
    file: &'static str,
    /// A strongswan.conf given with it (`--strongswan-conf`).
    strongswan_conf: Option<&'static str>,
    /// Kernel data plane (transport mode, outside xfrm interfaces).
    kernel: bool,
    /// Connections that load, with their children, in file order.
    loads: &'static [(&'static str, &'static [&'static str])],
    /// Errors: (the line they are at, by its text — `text@N` for the N-th
    /// line starting so —, substrings of the message). No other error.
    errors: &'static [(&'static str, &'static [&'static str])],
    /// Warnings that must be there: (line text, substring); `ss:` before
    /// the line text looks in the strongswan.conf.
    warnings: &'static [(&'static str, &'static str)],
}

/// The 1-based line number of the line whose trimmed text starts with
/// `at` (`at@N`: the N-th such line).
fn line_of(text: &str, at: &str) -> u32 {
    let (at, nth) = match at.rsplit_once('@') {
        Some((a, n)) if n.chars().all(|c| c.is_ascii_digit()) => (a, n.parse::<usize>().unwrap()),
        _ => (at, 1),
    };
    let n = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(at))
        .nth(nth - 1)
        .unwrap_or_else(|| panic!("no line starting with {at:?} (#{nth})"))
        .0;
    u32::try_from(n + 1).unwrap()
}

/// (file, line, error?, message) of everything said about a file.
type Said = Vec<(String, u32, bool, String)>;

fn run(c: &Case) -> (Said, convert::Converted, config::Config) {
    let path = corpus(c.file);
    let ss = c.strongswan_conf.map(corpus);
    let loaded = config::load_files(&path, ss.as_deref())
        .unwrap_or_else(|e| panic!("{}: does not load: {e}", c.file));
    let conv = convert::convert(&loaded.config, &ReqidMap::new(), &LabEnv, c.kernel);
    let mut said: Said = Vec::new();
    for w in &loaded.warnings {
        said.push((
            w.location.file.to_string(),
            w.location.line,
            false,
            w.message.clone(),
        ));
    }
    for n in &conv.warnings {
        let (f, l) = n
            .location
            .as_ref()
            .map_or((String::new(), 0), |l| (l.file.to_string(), l.line));
        said.push((f, l, n.error, n.message.clone()));
    }
    (said, conv, loaded.config)
}

fn check(c: &Case) {
    let (said, conv, _) = run(c);
    let dump = said
        .iter()
        .map(|(f, l, e, m)| {
            let f = Path::new(f)
                .file_name()
                .map(|x| x.to_string_lossy().to_string());
            format!(
                "{}:{l}: {}: {m}",
                f.unwrap_or_default(),
                if *e { "error" } else { "warning" }
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let text = std::fs::read_to_string(corpus(c.file)).unwrap();
    let ss_text = c
        .strongswan_conf
        .map(|s| std::fs::read_to_string(corpus(s)).unwrap());
    // What loads.
    let loaded: Vec<(String, Vec<String>)> = conv
        .peers
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.children.iter().map(|c| c.name.clone()).collect(),
            )
        })
        .collect();
    let want: Vec<(String, Vec<String>)> = c
        .loads
        .iter()
        .map(|(n, ch)| (n.to_string(), ch.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(loaded, want, "{}: what loads\n{dump}", c.file);
    // Every error, at its line, and no other.
    let errors: Vec<_> = said.iter().filter(|s| s.2).collect();
    for (at, parts) in c.errors {
        let line = line_of(&text, at);
        assert!(
            errors.iter().any(|(f, l, _, m)| f.ends_with(c.file)
                && *l == line
                && parts.iter().all(|p| m.contains(p))),
            "{}: no error at line {line} ({at}) with {parts:?}\n{dump}",
            c.file
        );
    }
    assert_eq!(errors.len(), c.errors.len(), "{}: errors\n{dump}", c.file);
    // The warnings asked for, at their lines.
    for (at, part) in c.warnings {
        let (file, text, at) = match at.strip_prefix("ss:") {
            Some(a) => (c.strongswan_conf.unwrap(), ss_text.as_deref().unwrap(), a),
            None => (c.file, text.as_str(), *at),
        };
        let line = line_of(text, at);
        assert!(
            said.iter()
                .any(|(f, l, e, m)| !e && f.ends_with(file) && *l == line && m.contains(part)),
            "{}: no warning at {file}:{line} ({at}) with {part:?}\n{dump}",
            c.file
        );
    }
    // Everything said has a place in a file.
    for (f, l, _, m) in &said {
        assert!(!f.is_empty() && *l > 0, "{}: no file:line for {m}", c.file);
    }
}

// Certificate authentication works; these files name certificates in an
// x509/ folder the corpus does not ship (or none at all).
const CERT: &str = "x509/";
const EAP: &str = "EAP authentication";
const POOLS: &str = "address pools";
const IKEV1: &str = "IKEv1 is not supported";
const SHUNTS: &str = "pass/drop shunts are not supported";
const SHUNT_CONN: &str = "only pass/drop shunts";

const CASES: &[Case] = &[
    // ---------------------------------------------------------- pfSense
    Case {
        file: "pfsense-s2s-policy.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("con1", &["con1"])],
        errors: &[
            (
                "bypasslan {",
                &["child 'bypass.bypasslan' not loaded", "mode = pass", SHUNTS],
            ),
            ("bypass {", &["connection 'bypass' not loaded", SHUNT_CONN]),
        ],
        warnings: &[("start_action = trap@2", "trap policies need a data plane")],
    },
    Case {
        file: "pfsense-s2s-vti.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("con1", &[])],
        errors: &[(
            "con1 {@2",
            &[
                "child 'con1.con1' not loaded",
                "policies = no",
                "only an interface carrying reqid 5001",
                "interfaces { ipsecN { reqid = 5001 } }",
            ],
        )],
        warnings: &[("children {", "none of the children could be loaded")],
    },
    Case {
        file: "pfsense-s2s-vti-adopted.conf",
        strongswan_conf: Some("pfsense-strongswan.conf"),
        kernel: false,
        loads: &[("con1", &["con1"])],
        errors: &[],
        warnings: &[
            (
                "ss:starter {",
                "strongswan.conf section 'starter' is not used",
            ),
            ("ss:threads = 16", "'charon.threads'"),
            ("ss:ikesa_table_size", "'charon.ikesa_table_size'"),
            ("ss:load_modular", "'charon.load_modular'"),
            ("ss:cisco_unity", "'charon.cisco_unity'"),
            ("ss:unity {", "'charon.plugins.unity'"),
            ("ss:curve25519 {", "'charon.plugins.curve25519'"),
            ("ss:include /var/etc", "matched no file"),
        ],
    },
    Case {
        file: "pfsense-mobile-psk.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[(
            "con-mobile : con-mobile-defaults",
            &["connection 'con-mobile' not loaded", POOLS],
        )],
        warnings: &[],
    },
    Case {
        file: "pfsense-mobile-eap-mschapv2.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[(
            "con-mobile : con-mobile-defaults",
            &[
                "connection 'con-mobile' not loaded",
                "local.auth",
                CERT,
                "remote.auth",
                EAP,
                POOLS,
            ],
        )],
        warnings: &[
            ("cert {", "certificates from files"),
            (
                "private-0 {",
                "has no 'secret' (the passphrase of an encrypted key)",
            ),
            ("eap-1 {", "EAP authentication is not supported"),
        ],
    },
    Case {
        file: "pfsense-s2s-ikev1.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[(
            "con3 {",
            &["connection 'con3' not loaded", "version = 1", IKEV1],
        )],
        warnings: &[],
    },
    Case {
        file: "pfsense-split-conn.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("con2", &["con2_5", "con2_6"])],
        errors: &[],
        warnings: &[],
    },
    Case {
        file: "pfsense-xauth-mobile.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[(
            "con-mobile : con-mobile-defaults",
            &[
                "version = 1",
                IKEV1,
                "aggressive = yes",
                "auth = xauth-generic: XAuth is an IKEv1 feature",
                POOLS,
            ],
        )],
        warnings: &[],
    },
    // --------------------------------------------------------- OPNsense
    Case {
        file: "opnsense-s2s.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[(
            "6f1c6e2a-54f4-4bd2-9e3b-2a4f0e0a1c01",
            &["2c9e4d73-5c2f-4f75-84e6-207f1b9c4d32"],
        )],
        errors: &[],
        warnings: &[],
    },
    Case {
        file: "opnsense-vti.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("7a3b2c1d-0e9f-4a8b-9c7d-6e5f4a3b2c1d", &[])],
        errors: &[(
            "ad6e5f4a-3b2c-4d1e-8f9a-3b2c1d0e9f8a {",
            &["policies = no", "interfaces { ipsecN { reqid = 10 } }"],
        )],
        warnings: &[],
    },
    Case {
        file: "opnsense-roadwarrior-eap.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[(
            "c1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8 {",
            &[CERT, EAP, POOLS],
        )],
        warnings: &[
            ("eap_id = %any", ".eap_id' is not supported"),
            ("eap-alice {", "EAP authentication is not supported"),
        ],
    },
    Case {
        file: "opnsense-legacy-tunnels.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("con1", &["con1"])],
        errors: &[
            ("pass-lan {", &[SHUNTS]),
            ("pass {", &["connection 'pass' not loaded", SHUNT_CONN]),
        ],
        warnings: &[],
    },
    // ------------------------------------------------------- strongSwan
    Case {
        file: "sws-ikev2-net2net-psk-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("gw-gw", &["net-net"])],
        errors: &[],
        warnings: &[],
    },
    Case {
        file: "sws-ikev2-rw-psk-ipv4-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("rw", &["net"])],
        errors: &[],
        warnings: &[],
    },
    Case {
        file: "sws-ikev2-rw-psk-fqdn-carol.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("home", &["home"])],
        errors: &[],
        warnings: &[],
    },
    Case {
        file: "sws-ikev2-rw-psk-no-idr-carol.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[(
            "home {",
            &[
                "remote.id",
                "'*.strongswan.org': wildcard identities are not supported by vtid with auth = psk",
            ],
        )],
        warnings: &[],
    },
    Case {
        file: "sws-ikev2-nat-rw-psk-alice.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("nat-t", &["nat-t"])],
        errors: &[],
        warnings: &[],
    },
    Case {
        file: "sws-ikev2-net2net-psk-dscp-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("dscp-be", &[]), ("dscp-ef", &[])],
        errors: &[
            (
                "net-net {",
                &[
                    "child 'dscp-be.net-net' not loaded",
                    "mark_in",
                    "XFRM marks",
                ],
            ),
            (
                "net-net {@2",
                &["child 'dscp-ef.net-net' not loaded", "XFRM marks"],
            ),
        ],
        warnings: &[],
    },
    Case {
        file: "sws-ikev2-rw-psk-ppk-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("rw", &["net"])],
        errors: &[],
        warnings: &[
            ("ppk_id", "post-quantum preshared keys are not supported"),
            (
                "ppk-carol {",
                "'ppk' secret 'secrets.ppk-carol' is not used",
            ),
        ],
    },
    Case {
        file: "sws-ikev2-dpd-restart-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[("rw {", &["local.certs", CERT])],
        warnings: &[],
    },
    Case {
        file: "sws-ikev2-net2net-route-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[("gw-gw {", &[CERT])],
        warnings: &[],
    },
    Case {
        file: "sws-ikev2-trap-any-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("trap-any", &["trap-any"])],
        errors: &[("pass-ssh {", &[SHUNTS]), ("pass {", &[SHUNT_CONN])],
        warnings: &[
            ("mode = transport", "cannot carry transport mode"),
            ("start_action = trap", "trap policies need a data plane"),
        ],
    },
    Case {
        file: "sws-ikev2-shunt-manual-prio-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[
            ("rw {", &[CERT]),
            ("drop-eth0-default {", &["mode = drop", SHUNTS]),
            ("pass-ssh-in {", &["mode = pass", SHUNTS]),
            ("pass-http-out {", &[SHUNTS]),
            ("shunts {", &[SHUNT_CONN]),
        ],
        warnings: &[
            ("priority = 2", "children.net.priority"),
            ("interface = eth0", "children.net.interface"),
            ("policies_fwd_out", "children.net.policies_fwd_out"),
        ],
    },
    Case {
        file: "sws-ikev2-net2net-ah-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[
            ("gw-gw {", &[CERT]),
            ("net-net {", &["ah_proposals", "AH is not supported"]),
        ],
        warnings: &[],
    },
    Case {
        file: "sws-route-based-xfrmi-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("gw-gw", &[])],
        errors: &[(
            "net-net {",
            &[
                "interface ID 42/1337 names no vtid interface",
                "interfaces { ipsecN { reqid = 42 } }",
            ],
        )],
        warnings: &[],
    },
    // The same file on a kernel data plane: xfrm interfaces made outside
    // vtid are used as strongSwan uses them.
    Case {
        file: "sws-route-based-xfrmi-moon.conf",
        strongswan_conf: None,
        kernel: true,
        loads: &[("gw-gw", &["net-net"])],
        errors: &[],
        warnings: &[(
            "if_id_in = 42",
            "the XFRM data plane installs the SAs and policies with it",
        )],
    },
    Case {
        file: "sws-route-based-vti-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("gw-gw", &[])],
        errors: &[("net-net {", &["mark_in", "XFRM marks"])],
        warnings: &[],
    },
    Case {
        file: "sws-ikev1-net2net-psk-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[("gw-gw {", &["version = 1", IKEV1])],
        warnings: &[],
    },
    Case {
        file: "sws-ikev1-xauth-psk-moon.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[(
            "rw {",
            &[IKEV1, "remote-xauth.auth", "XAuth is an IKEv1 feature"],
        )],
        warnings: &[
            ("xauth-carol {", "XAuth is IKEv1"),
            ("xauth-dave {", "XAuth is IKEv1"),
        ],
    },
    // ------------------------------------------------------------- VyOS
    Case {
        file: "vyos-s2s-psk.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("branch1", &["branch1-tunnel-0", "branch1-tunnel-1"])],
        errors: &[],
        warnings: &[("dpd_timeout", "IKEv1 only")],
    },
    Case {
        file: "vyos-vti.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("peer-hq", &[])],
        errors: &[(
            "peer-hq-vti {",
            &[
                "interface ID 2 names no vtid interface",
                "interfaces { ipsecN { reqid = 2 } }",
            ],
        )],
        warnings: &[("dpd_timeout", "IKEv1 only")],
    },
    Case {
        file: "vyos-remote-access.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[],
        errors: &[("ra-rw {", &[CERT, EAP, POOLS])],
        warnings: &[
            (
                "private_vpn {",
                "has no 'secret' (the passphrase of an encrypted key)",
            ),
            ("eap-ra-rw-alice {", "EAP authentication is not supported"),
            ("inactivity", "children.ra-rw-client.inactivity"),
        ],
    },
    // ------------------------------------------------- hand-made layouts
    Case {
        file: "public-dyndns-peer.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("home", &["routed"])],
        errors: &[],
        warnings: &[(
            "remote_addrs = home.dyndns.example.net",
            "cannot resolve 'home.dyndns.example.net'",
        )],
    },
    Case {
        file: "public-psk-includes.conf",
        strongswan_conf: None,
        kernel: false,
        loads: &[("v6-site", &["lans"]), ("extra", &["extra"])],
        errors: &[],
        warnings: &[
            ("threads = 16", "'charon.threads'"),
            ("start_action = trap", "trap policies need a data plane"),
        ],
    },
];

#[test]
fn corpus_files_load_or_are_refused_naming_the_feature() {
    let files: std::collections::BTreeSet<&str> = CASES.iter().map(|c| c.file).collect();
    assert!(files.len() >= 30, "{} files", files.len());
    let sws = files.iter().filter(|f| f.starts_with("sws-")).count();
    assert!(sws >= 15, "{sws} strongSwan scenarios");
    // Every file of the directory is in the table.
    for e in std::fs::read_dir(corpus("")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if name.ends_with(".conf") && name != "pfsense-strongswan.conf" {
            assert!(files.contains(name.as_str()), "{name} has no case");
        }
    }
    for c in CASES {
        check(c);
    }
}

/// pfSense's strongswan.conf sets vtid's daemon settings with strongSwan's
/// meaning.
#[test]
fn pfsense_strongswan_conf_sets_the_daemon() {
    let c = &CASES.iter().find(|c| c.strongswan_conf.is_some()).unwrap();
    let (_, conv, cfg) = run(c);
    let d = &cfg.daemon;
    assert!(!d.install_routes);
    assert!(d.ignore_acquire_ts);
    assert!(d.make_before_break);
    assert_eq!(d.retransmit_tries, 3);
    assert_eq!(d.retransmit_timeout, 2.0);
    assert_eq!(d.retransmit_base, 1.5);
    assert_eq!(d.init_limit_half_open, 1000);
    let s = d.syslog.as_ref().expect("charon.syslog");
    assert_eq!(s.identifier, "charon");
    assert_eq!(conv.engine.retransmit_tries, 3);
    assert_eq!(conv.engine.init_limit_half_open, 1000);
    // The routed child: bound to the adopted interface, pfSense's selectors.
    let child = &conv.peers[0].children[0];
    assert_eq!(child.reqid, 5001);
    assert_eq!(child.local_ts.len(), 3);
    assert_eq!(cfg.interfaces[0].name, "ipsec1");
    assert!(cfg.interfaces[0].local_addrs.is_empty());
}

/// Identities and DNS as the files give them: no local.id takes the
/// address at set-up; a DNS peer resolved now is where we initiate to,
/// one that does not resolve still loads and is kept for re-resolution.
#[test]
fn identities_and_dns_names_are_decided_at_set_up() {
    let case = |f: &str| CASES.iter().find(|c| c.file == f).unwrap();
    let (_, conv, _) = run(case("sws-ikev2-rw-psk-ipv4-moon.conf"));
    assert!(conv.peers[0].local_id_from_address);
    let (_, conv, _) = run(case("pfsense-split-conn.conf"));
    assert_eq!(
        conv.peers[0].remote_addrs,
        vec![ike::engine::AddrMatch::Addr(
            "198.51.100.40".parse().unwrap()
        )]
    );
    assert!(conv.dns.contains_key("con2"));
    let (_, conv, _) = run(case("public-dyndns-peer.conf"));
    assert!(conv.peers[0].remote_addrs.is_empty());
    assert!(conv.peers[0].local_id_from_address);
    assert!(conv.dns.contains_key("home"));
}

/// Pools are read (issue 17): every corpus file's pools load, with the
/// addresses strongSwan would hand out, and the pools its connections name
/// exist (the connections themselves are refused until the engine assigns
/// virtual IPs).
#[test]
fn corpus_pools_load() {
    for (file, pool, first, size) in [
        (
            "pfsense-mobile-psk.conf",
            "mobile-pool-v4",
            "10.99.0.1",
            254,
        ),
        (
            "pfsense-mobile-eap-mschapv2.conf",
            "mobile-pool-v4",
            "10.99.0.1",
            254,
        ),
        (
            "pfsense-xauth-mobile.conf",
            "mobile-pool-v4",
            "10.99.0.1",
            254,
        ),
        ("opnsense-roadwarrior-eap.conf", "rw-pool", "10.98.0.1", 254),
        ("vyos-remote-access.conf", "ra-rw-ipv4", "100.64.0.1", 254),
    ] {
        let loaded = config::load_file(corpus(file)).unwrap();
        let c = &loaded.config;
        let p = c
            .pools
            .iter()
            .find(|p| p.name == pool)
            .unwrap_or_else(|| panic!("{file}: no pool {pool}"));
        let span = p.span().unwrap();
        assert_eq!(
            (span.first.to_string(), span.size),
            (first.to_string(), size),
            "{file}"
        );
        for conn in &c.connections {
            for name in &conn.pools {
                assert!(c.pools.iter().any(|p| p.name == *name), "{file}: {name}");
            }
        }
        assert!(
            !loaded.warnings.iter().any(|w| w.message.contains("pool")),
            "{file}: {:?}",
            loaded.warnings
        );
    }
}
