//! `ikedump DIR`: shows strongSwan's IKE messages as vtid reads them.
//!
//! DIR is a fixture directory written by `interop/capture-fixtures` (one
//! sub-directory per suite) or one suite directory. For every message:
//! exchange, direction, message ID and payloads, one line per payload;
//! encrypted messages are opened with the keys vtid derives (from
//! charon's logged g^ir and the nonces and SPIs of the packets) and their
//! inner payloads shown. Then the checks: vtid's SK_* and CHILD SA keys
//! equal charon's, and strongSwan's AUTH payloads recomputed by vtid.
//! Exits 1 if anything does not match.
//!
//! Run: `cargo run -q -p vtid-tests --example ikedump -- DIR`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ike::crypto::{psk_auth, signed_octets, ChildKeys, IkeKeys, Prf, SkCipher, Suite};
use ike::proposal::proposal_name;
use ike::wire::{
    parse_payload_chain, ExchangeType, Identification, Message, Payload, PayloadBody,
    TrafficSelector, TsPayload,
};
use vtid_tests::fixtures::{discover, Fixture, FixtureMessage};

#[derive(Default)]
struct Tally {
    suites: usize,
    messages: usize,
    reemitted: usize,
    decrypted: usize,
    encrypted: usize,
    sk_ok: usize,
    sk_total: usize,
    auth_ok: usize,
    auth_total: usize,
    child_ok: usize,
    child_total: usize,
    failures: Vec<String>,
}

fn ok(b: bool) -> &'static str {
    if b {
        "OK"
    } else {
        "MISMATCH"
    }
}

fn id_str(id: &Identification) -> String {
    let data = id.data();
    match std::str::from_utf8(&data) {
        Ok(s) if matches!(id, Identification::Fqdn(_) | Identification::Rfc822(_)) => {
            format!("{} {s}", id.ty())
        }
        _ => format!("{} {}", id.ty(), hex::encode(&data)),
    }
}

fn ts_str(t: &TsPayload) -> String {
    t.selectors
        .iter()
        .map(|s| match s {
            TrafficSelector::Ipv4 {
                ip_proto,
                start_port,
                end_port,
                start,
                end,
            } => {
                let mut s = format!("{start}-{end}");
                if *ip_proto != 0 || *start_port != 0 || *end_port != 0xffff {
                    let _ = write!(s, " proto {ip_proto} ports {start_port}-{end_port}");
                }
                s
            }
            TrafficSelector::Ipv6 { start, end, .. } => format!("{start}-{end}"),
            TrafficSelector::Other { ty, .. } => format!("{ty}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line describing a payload.
fn payload_line(p: &Payload) -> String {
    match &p.body {
        PayloadBody::Sa(sa) => {
            let props: Vec<String> = sa
                .proposals
                .iter()
                .map(|pr| {
                    let spi = if pr.spi.is_empty() {
                        String::new()
                    } else {
                        format!(" SPI {}", hex::encode(&pr.spi))
                    };
                    format!("#{} {}{spi} {}", pr.num, pr.protocol, proposal_name(pr))
                })
                .collect();
            format!("SA     {}", props.join(" | "))
        }
        PayloadBody::Ke(k) => format!("KE     {} ({} bytes)", k.group, k.data.len()),
        PayloadBody::IdI(id) => format!("IDi    {}", id_str(id)),
        PayloadBody::IdR(id) => format!("IDr    {}", id_str(id)),
        PayloadBody::Auth(a) => format!("AUTH   {} ({} bytes)", a.method, a.data.len()),
        PayloadBody::Nonce(n) => format!("Nonce  {} bytes", n.data.len()),
        PayloadBody::Notify(n) => {
            let mut s = format!("N({})", n.ty);
            if !n.spi.is_empty() {
                let _ = write!(s, " {} SPI {}", n.protocol, hex::encode(&n.spi));
            }
            if !n.data.is_empty() {
                let _ = write!(s, " data {} bytes", n.data.len());
            }
            s
        }
        PayloadBody::Delete(d) => {
            if d.spis.is_empty() {
                format!("D      {} SA", d.protocol)
            } else {
                let spis: Vec<String> = d.spis.iter().map(hex::encode).collect();
                format!("D      {} SPI {}", d.protocol, spis.join(","))
            }
        }
        PayloadBody::VendorId(v) => format!("V      {} bytes", v.len()),
        PayloadBody::TsI(t) => format!("TSi    {}", ts_str(t)),
        PayloadBody::TsR(t) => format!("TSr    {}", ts_str(t)),
        PayloadBody::Sk(sk) => format!("SK     {} bytes, first inner {}", sk.body.len(), sk.first),
        other => format!("{:?}", Payload::new(other.clone()).ty()),
    }
}

struct Ike {
    /// The selected IKE proposal, strongSwan-style.
    name: String,
    prf: Prf,
    keys: IkeKeys,
    ni: Vec<u8>,
    nr: Vec<u8>,
    from_i: SkCipher,
    from_r: SkCipher,
}

fn nonce(chain: &[Payload]) -> Option<Vec<u8>> {
    chain.iter().find_map(|p| match &p.body {
        PayloadBody::Nonce(n) => Some(n.data.clone()),
        _ => None,
    })
}

fn sa_proposals(chain: &[Payload]) -> Option<&ike::wire::SaPayload> {
    chain.iter().find_map(|p| match &p.body {
        PayloadBody::Sa(s) => Some(s),
        _ => None,
    })
}

fn ike_sa(f: &Fixture, t: &mut Tally) -> Result<Ike, String> {
    let get = |resp| {
        f.first(ExchangeType::IKE_SA_INIT, resp)
            .ok_or("no IKE_SA_INIT")
            .and_then(|m| Message::parse(&m.bytes).map_err(|_| "IKE_SA_INIT does not parse"))
    };
    let (req, resp) = (get(false)?, get(true)?);
    let prop = sa_proposals(&resp.payloads)
        .and_then(|s| s.proposals.first())
        .ok_or("no SA in IKE_SA_INIT response")?;
    let suite = Suite::from_proposal(prop).map_err(|e| format!("{e:?}"))?;
    let prf = suite.prf.ok_or("no PRF")?;
    let ni = nonce(&req.payloads).ok_or("no Ni")?;
    let nr = nonce(&resp.payloads).ok_or("no Nr")?;
    let keys = IkeKeys::from_shared_secret(
        &suite,
        &f.keys.g_ir,
        &ni,
        &nr,
        &resp.header.spi_i,
        &resp.header.spi_r,
    )
    .map_err(|e| format!("{e:?}"))?;
    let k = &f.keys;
    let mut line = String::from("  key derivation: vtid's");
    let mut all = true;
    for (name, ours, theirs) in [
        ("SK_d", keys.sk_d.as_bytes(), &k.sk_d),
        ("SK_ai", keys.sk_ai.as_bytes(), &k.sk_ai),
        ("SK_ar", keys.sk_ar.as_bytes(), &k.sk_ar),
        ("SK_ei", keys.sk_ei.as_bytes(), &k.sk_ei),
        ("SK_er", keys.sk_er.as_bytes(), &k.sk_er),
        ("SK_pi", keys.sk_pi.as_bytes(), &k.sk_pi),
        ("SK_pr", keys.sk_pr.as_bytes(), &k.sk_pr),
    ] {
        t.sk_total += 1;
        if ours == &theirs[..] {
            t.sk_ok += 1;
        } else {
            all = false;
            t.failures
                .push(format!("{}: {name} differs from charon's", f.name));
        }
        let shown = if ours.is_empty() { "-" } else { "" };
        let _ = write!(line, " {name}{shown}");
    }
    let _ = write!(
        line,
        " == charon's: {} (prf+ from g^ir {} bytes, Ni, Nr, SPIs)",
        ok(all),
        k.g_ir.len()
    );
    println!("{line}");
    let (from_i, from_r) = keys
        .sk_ciphers(&suite, true)
        .map_err(|e| format!("{e:?}"))?;
    Ok(Ike {
        name: proposal_name(prop),
        prf,
        keys,
        ni,
        nr,
        from_i,
        from_r,
    })
}

/// Decrypts an encrypted message; returns the inner chain.
fn open(ike: &Ike, m: &FixtureMessage, msg: &Message) -> Result<Vec<Payload>, String> {
    let Some(Payload {
        body: PayloadBody::Sk(sk),
        ..
    }) = msg.encrypted()
    else {
        return Err("no SK payload".into());
    };
    let (aad, body) = msg.split_encrypted(&m.bytes).ok_or("split")?;
    let cipher = if msg.header.flags.initiator {
        &ike.from_i
    } else {
        &ike.from_r
    };
    let plain = cipher.open(aad, body).map_err(|e| format!("open: {e:?}"))?;
    parse_payload_chain(sk.first, &plain).map_err(|e| format!("inner chain: {e:?}"))
}

fn dump_suite(f: &Fixture, t: &mut Tally) {
    let k = &f.keys;
    println!();
    println!(
        "=== suite {}  (ESP {}; {} <-> {}, PSK, IDs {} / {})",
        f.name, k.esp_proposal, k.addr_i, k.addr_r, k.id_i, k.id_r
    );
    t.suites += 1;
    let ike = match ike_sa(f, t) {
        Ok(i) => i,
        Err(e) => {
            t.failures.push(format!("{}: {e}", f.name));
            println!("  cannot set up the IKE SA: {e}");
            return;
        }
    };
    let mut chains: Vec<(FixtureMessage, Message, Vec<Payload>)> = Vec::new();
    for m in &f.messages {
        t.messages += 1;
        let msg = match Message::parse(&m.bytes) {
            Ok(msg) => msg,
            Err(e) => {
                t.failures.push(format!("{}/{}: {e:?}", f.name, m.file));
                println!("  {} does not parse: {e:?}", m.file);
                continue;
            }
        };
        let exact = msg.emit() == m.bytes;
        if exact {
            t.reemitted += 1;
        } else {
            t.failures
                .push(format!("{}/{}: re-emission differs", f.name, m.file));
        }
        let h = &msg.header;
        let dir = if h.flags.initiator { "I->R" } else { "R->I" };
        let kind = if h.flags.response {
            "response"
        } else {
            "request "
        };
        println!(
            "  {:<26} {:<15} {kind} {dir} msgid {}  {} bytes{}",
            m.file,
            h.exchange.to_string(),
            h.message_id,
            m.bytes.len(),
            if exact { "" } else { "  RE-EMISSION DIFFERS" }
        );
        for p in &msg.payloads {
            println!("      {}", payload_line(p));
        }
        let inner = if msg.encrypted().is_some() {
            t.encrypted += 1;
            match open(&ike, m, &msg) {
                Ok(c) => {
                    t.decrypted += 1;
                    let keys = if h.flags.initiator {
                        "SK_ei/SK_ai"
                    } else {
                        "SK_er/SK_ar"
                    };
                    println!(
                        "        decrypted with {keys} ({}): {} inner payloads",
                        ike.name,
                        c.len()
                    );
                    for p in &c {
                        println!("        {}", payload_line(p));
                    }
                    c
                }
                Err(e) => {
                    t.failures.push(format!("{}/{}: {e}", f.name, m.file));
                    println!("        NOT DECRYPTED: {e}");
                    Vec::new()
                }
            }
        } else {
            msg.payloads.clone()
        };
        if h.exchange == ExchangeType::IKE_SA_INIT && h.flags.response {
            if let Some(p) = sa_proposals(&msg.payloads).and_then(|s| s.proposals.first()) {
                let name = format!("IKE:{}", proposal_name(p));
                let same = name == k.ike_selected;
                println!(
                    "      selected {name}  (charon: {}) {}",
                    k.ike_selected,
                    ok(same)
                );
                if !same {
                    t.failures
                        .push(format!("{}: selected IKE proposal", f.name));
                }
            }
        }
        chains.push((m.clone(), msg, inner));
    }
    check_auth(f, &ike, &chains, t);
    check_children(f, &ike, &chains, t);
}

fn find(
    chains: &[(FixtureMessage, Message, Vec<Payload>)],
    ex: ExchangeType,
    resp: bool,
) -> Option<&(FixtureMessage, Message, Vec<Payload>)> {
    chains
        .iter()
        .find(|(_, m, _)| m.header.exchange == ex && m.header.flags.response == resp)
}

fn check_auth(
    f: &Fixture,
    ike: &Ike,
    chains: &[(FixtureMessage, Message, Vec<Payload>)],
    t: &mut Tally,
) {
    for resp in [false, true] {
        let (Some(init), Some((_, _, chain))) = (
            find(chains, ExchangeType::IKE_SA_INIT, resp),
            find(chains, ExchangeType::IKE_AUTH, resp),
        ) else {
            continue;
        };
        let id = chain.iter().find_map(|p| match (&p.body, resp) {
            (PayloadBody::IdI(i), false) | (PayloadBody::IdR(i), true) => Some(i),
            _ => None,
        });
        let auth = chain.iter().find_map(|p| match &p.body {
            PayloadBody::Auth(a) => Some(a),
            _ => None,
        });
        let (Some(id), Some(auth)) = (id, auth) else {
            continue;
        };
        let (who, peer_nonce, sk_p) = if resp {
            ("responder (sun)", &ike.ni, ike.keys.sk_pr.as_bytes())
        } else {
            ("initiator (moon)", &ike.nr, ike.keys.sk_pi.as_bytes())
        };
        let octets = signed_octets(ike.prf, &init.0.bytes, peer_nonce, sk_p, &id.to_body());
        let ours = psk_auth(ike.prf, &f.keys.psk, &octets);
        let same = ours == auth.data;
        t.auth_total += 1;
        if same {
            t.auth_ok += 1;
        } else {
            t.failures.push(format!("{}: {who} AUTH", f.name));
        }
        println!(
            "  AUTH of the {who}: strongSwan sent {}..., vtid computes {}... {}",
            hex::encode(&auth.data[..8.min(auth.data.len())]),
            hex::encode(&ours[..8.min(ours.len())]),
            ok(same)
        );
    }
}

fn check_children(
    f: &Fixture,
    ike: &Ike,
    chains: &[(FixtureMessage, Message, Vec<Payload>)],
    t: &mut Tally,
) {
    for (log, ex) in f
        .keys
        .children
        .iter()
        .zip([ExchangeType::IKE_AUTH, ExchangeType::CREATE_CHILD_SA])
    {
        let (Some((_, _, req)), Some((_, _, resp))) =
            (find(chains, ex, false), find(chains, ex, true))
        else {
            continue;
        };
        let (ni, nr) = if ex == ExchangeType::IKE_AUTH {
            (ike.ni.clone(), ike.nr.clone())
        } else {
            match (nonce(req), nonce(resp)) {
                (Some(a), Some(b)) => (a, b),
                _ => continue,
            }
        };
        let Some(prop) = sa_proposals(resp).and_then(|s| s.proposals.first()) else {
            continue;
        };
        let Ok(esp) = Suite::from_proposal(prop) else {
            t.failures.push(format!("{}: ESP proposal", f.name));
            continue;
        };
        let nonces = [&ni[..], &nr[..]].concat();
        let g = log.seed.strip_suffix(&nonces[..]).filter(|g| !g.is_empty());
        t.child_total += 1;
        let same = match ChildKeys::derive(ike.prf, ike.keys.sk_d.as_bytes(), g, &ni, &nr, &esp) {
            Ok(c) => {
                c.encr_i.as_bytes() == &log.encr_i[..]
                    && c.encr_r.as_bytes() == &log.encr_r[..]
                    && c.integ_i.as_bytes() == &log.integ_i[..]
                    && c.integ_r.as_bytes() == &log.integ_r[..]
            }
            Err(_) => false,
        };
        let spis = sa_proposals(req)
            .and_then(|s| s.proposals.first())
            .is_some_and(|p| p.spi == log.spi_i)
            && prop.spi == log.spi_r;
        if same && spis {
            t.child_ok += 1;
        } else {
            t.failures
                .push(format!("{}: child{} keys/SPIs", f.name, log.n));
        }
        println!(
            "  CHILD SA {} #{} ({}, SPIs {}/{}): vtid's encr_i encr_r{} == charon's: {}",
            log.name,
            log.n,
            proposal_name(prop),
            hex::encode(&log.spi_i),
            hex::encode(&log.spi_r),
            if log.integ_i.is_empty() {
                ""
            } else {
                " integ_i integ_r"
            },
            ok(same && spis)
        );
    }
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: ikedump DIR  (a capture-fixtures output dir or one suite dir)");
        return ExitCode::from(2);
    };
    let dirs = if dir.join("keys.txt").is_file() {
        vec![dir.clone()]
    } else {
        match discover(&dir) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("ikedump: {e}");
                return ExitCode::from(2);
            }
        }
    };
    if dirs.is_empty() {
        eprintln!(
            "ikedump: no suite (directory with keys.txt) in {}",
            dir.display()
        );
        return ExitCode::from(2);
    }
    let mut t = Tally::default();
    for d in &dirs {
        match Fixture::load(Path::new(d)) {
            Ok(f) => dump_suite(&f, &mut t),
            Err(e) => t.failures.push(e.to_string()),
        }
    }
    println!();
    for fail in &t.failures {
        println!("FAILED: {fail}");
    }
    let all_ok = t.failures.is_empty();
    println!(
        "SUMMARY: {} suites, {}/{} messages parsed and re-emitted byte for byte, {}/{} encrypted \
         messages decrypted, SK_* {}/{} == charon's, AUTH {}/{} recomputed, CHILD SA keys {}/{} \
         == charon's: {}",
        t.suites,
        t.reemitted,
        t.messages,
        t.decrypted,
        t.encrypted,
        t.sk_ok,
        t.sk_total,
        t.auth_ok,
        t.auth_total,
        t.child_ok,
        t.child_total,
        if all_ok { "ALL OK" } else { "FAILURES" }
    );
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
