//! Loader for the strongSwan fixture suites written by
//! `interop/capture-fixtures` (see `tests/fixtures/strongswan/README.md`).
//!
//! A suite directory holds the IKE messages of one run as
//! `NN-<exchange>-<req|resp>.bin` (exactly the IKE message, non-ESP marker
//! removed), `keys.txt` (what charon derived, as `name = value` lines with
//! contiguous hex) and, in its parent directory, `manifest.txt`. This
//! module only reads and decodes them; it checks nothing about IKE.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use ike::wire::ExchangeType;

/// The fixtures committed in this repository.
pub fn committed_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/strongswan")
}

/// A loading error: which file and what is wrong with it.
#[derive(Debug)]
pub struct FixtureError(pub String);

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FixtureError {}

fn err<T>(msg: impl Into<String>) -> Result<T, FixtureError> {
    Err(FixtureError(msg.into()))
}

/// The suite directories under `root` (those holding a `keys.txt`), sorted
/// by name.
pub fn discover(root: &Path) -> Result<Vec<PathBuf>, FixtureError> {
    let rd = fs::read_dir(root)
        .map_err(|e| FixtureError(format!("{}: cannot list: {e}", root.display())))?;
    let mut dirs: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.join("keys.txt").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// One `.bin` file: an IKE message as it was on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureMessage {
    /// The file name, e.g. `03-ike_auth-req.bin`.
    pub file: String,
    /// The sequence number from the file name (1 for `01-...`).
    pub seq: u32,
    /// The exchange type the file name says.
    pub exchange: ExchangeType,
    /// Whether the file name says `resp`.
    pub response: bool,
    /// The message bytes (IKE header to end).
    pub bytes: Vec<u8>,
}

/// Parses `NN-<exchange>-<req|resp>.bin` into (seq, exchange, response).
pub fn parse_file_name(name: &str) -> Option<(u32, ExchangeType, bool)> {
    let stem = name.strip_suffix(".bin")?;
    let (seq, rest) = stem.split_once('-')?;
    let (exch, dir) = rest.rsplit_once('-')?;
    let response = match dir {
        "req" => false,
        "resp" => true,
        _ => return None,
    };
    Some((seq.parse().ok()?, exchange_from_name(exch)?, response))
}

/// `ike_sa_init` / `IKE_SA_INIT` etc. to the exchange type.
pub fn exchange_from_name(name: &str) -> Option<ExchangeType> {
    let upper = name.to_ascii_uppercase();
    ExchangeType::KNOWN
        .iter()
        .copied()
        .find(|e| e.name() == Some(upper.as_str()))
}

/// One line of `manifest.txt` for a message of this suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    /// The .bin file name (without the suite directory).
    pub file: String,
    /// Exchange type.
    pub exchange: ExchangeType,
    /// `response` (true) or `request`.
    pub response: bool,
    /// Message ID.
    pub message_id: u32,
    /// `sender=initiator` (true) or `sender=responder`: the IKE SA role of
    /// the sender.
    pub sender_is_initiator: bool,
    /// UDP destination port.
    pub udp_port: u16,
    /// The 4-octet non-ESP marker was in front of the message on the wire.
    pub non_esp_marker: bool,
    /// Source address and port, e.g. `192.0.2.1:500`.
    pub src: String,
    /// Destination address and port.
    pub dst: String,
}

fn parse_manifest_line(line: &str) -> Option<(String, ManifestEntry)> {
    let mut words = line.split_whitespace();
    let path = words.next()?;
    let (suite, file) = path.split_once('/')?;
    let exchange = exchange_from_name(words.next()?)?;
    let response = match words.next()? {
        "request" => false,
        "response" => true,
        _ => return None,
    };
    let rest: Vec<&str> = words.collect();
    let field = |k: &str| {
        rest.iter()
            .find_map(|w| w.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
    };
    let arrow = rest.iter().position(|w| *w == "->")?;
    Some((
        suite.to_string(),
        ManifestEntry {
            file: file.to_string(),
            exchange,
            response,
            message_id: field("msgid")?.parse().ok()?,
            sender_is_initiator: match field("sender")? {
                "initiator" => true,
                "responder" => false,
                _ => return None,
            },
            udp_port: field("udp")?.parse().ok()?,
            non_esp_marker: rest.contains(&"non-esp-marker-removed"),
            src: rest.get(arrow.checked_sub(1)?)?.to_string(),
            dst: rest.get(arrow + 1)?.to_string(),
        },
    ))
}

/// The keys and parameters of one CHILD SA (`childN.*` in keys.txt).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ChildLog {
    /// N: 1 for the CHILD SA of IKE_AUTH, 2 for the rekeyed one.
    pub n: u32,
    /// The CHILD SA's configured name.
    pub name: String,
    /// The selected proposal as charon printed it (`ESP:AES_GCM_16_128/NO_EXT_SEQ`).
    pub selected: String,
    /// SPI chosen by the initiator (4 octets, wire order).
    pub spi_i: Vec<u8>,
    /// SPI chosen by the responder.
    pub spi_r: Vec<u8>,
    /// charon's KEYMAT seed: `[g^ir (new) |] Ni | Nr`.
    pub seed: Vec<u8>,
    /// KEYMAT parts (AEAD keys with salt; integ empty for AEAD).
    pub encr_i: Vec<u8>,
    /// See `encr_i`.
    pub encr_r: Vec<u8>,
    /// See `encr_i`.
    pub integ_i: Vec<u8>,
    /// See `encr_i`.
    pub integ_r: Vec<u8>,
}

/// keys.txt, decoded.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Keys {
    /// Suite (directory) name.
    pub suite: String,
    /// The configured IKE proposal (swanctl syntax).
    pub ike_proposal: String,
    /// The configured ESP proposal.
    pub esp_proposal: String,
    /// The pre-shared key (from `psk_hex`).
    pub psk: Vec<u8>,
    /// The initiator's FQDN identity.
    pub id_i: String,
    /// The responder's FQDN identity.
    pub id_r: String,
    /// The initiator's outer address.
    pub addr_i: String,
    /// The responder's outer address.
    pub addr_r: String,
    /// Traffic selector behind the initiator.
    pub ts_i: String,
    /// Traffic selector behind the responder.
    pub ts_r: String,
    /// The selected IKE proposal as charon printed it (`IKE:...`).
    pub ike_selected: String,
    /// IKE SPIs, wire order.
    pub spi_i: Vec<u8>,
    /// See `spi_i`.
    pub spi_r: Vec<u8>,
    /// Nonces of IKE_SA_INIT.
    pub ni: Vec<u8>,
    /// See `ni`.
    pub nr: Vec<u8>,
    /// The (EC)DH shared secret of IKE_SA_INIT.
    pub g_ir: Vec<u8>,
    /// SKEYSEED.
    pub skeyseed: Vec<u8>,
    /// SK_d.
    pub sk_d: Vec<u8>,
    /// SK_ai (empty for AEAD).
    pub sk_ai: Vec<u8>,
    /// SK_ar (empty for AEAD).
    pub sk_ar: Vec<u8>,
    /// SK_ei (with salt for AEAD).
    pub sk_ei: Vec<u8>,
    /// SK_er (with salt for AEAD).
    pub sk_er: Vec<u8>,
    /// SK_pi.
    pub sk_pi: Vec<u8>,
    /// SK_pr.
    pub sk_pr: Vec<u8>,
    /// `child1`, `child2`, ... in order.
    pub children: Vec<ChildLog>,
}

/// Splits keys.txt into `name -> value` (comments and blank lines skipped).
pub fn parse_key_lines(text: &str) -> Result<BTreeMap<String, String>, FixtureError> {
    let mut map = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return err(format!("keys.txt line {}: no '=': {line:?}", i + 1));
        };
        if map
            .insert(k.trim().to_string(), v.trim().to_string())
            .is_some()
        {
            return err(format!("keys.txt line {}: duplicate {:?}", i + 1, k.trim()));
        }
    }
    Ok(map)
}

impl Keys {
    /// Decodes keys.txt. Every field must be present (an empty value is
    /// allowed, and means charon derived no such key).
    pub fn parse(text: &str) -> Result<Keys, FixtureError> {
        let map = parse_key_lines(text)?;
        let s = |k: &str| {
            map.get(k)
                .cloned()
                .ok_or_else(|| FixtureError(format!("keys.txt: no {k:?}")))
        };
        let h = |k: &str| {
            let v = s(k)?;
            hex::decode(&v).map_err(|e| FixtureError(format!("keys.txt: {k}: bad hex: {e}")))
        };
        let mut children = Vec::new();
        for n in 1.. {
            let p = format!("child{n}.");
            if !map.contains_key(&format!("{p}spi_i")) {
                break;
            }
            let c = |k: &str| s(&format!("{p}{k}"));
            let ch = |k: &str| h(&format!("{p}{k}"));
            children.push(ChildLog {
                n,
                name: c("name")?,
                selected: c("selected")?,
                spi_i: ch("spi_i")?,
                spi_r: ch("spi_r")?,
                seed: ch("seed")?,
                encr_i: ch("encr_i")?,
                encr_r: ch("encr_r")?,
                integ_i: ch("integ_i")?,
                integ_r: ch("integ_r")?,
            });
        }
        Ok(Keys {
            suite: s("suite")?,
            ike_proposal: s("ike_proposal")?,
            esp_proposal: s("esp_proposal")?,
            psk: h("psk_hex")?,
            id_i: s("id_i")?,
            id_r: s("id_r")?,
            addr_i: s("addr_i")?,
            addr_r: s("addr_r")?,
            ts_i: s("ts_i")?,
            ts_r: s("ts_r")?,
            ike_selected: s("ike_selected")?,
            spi_i: h("spi_i")?,
            spi_r: h("spi_r")?,
            ni: h("ni")?,
            nr: h("nr")?,
            g_ir: h("g_ir")?,
            skeyseed: h("skeyseed")?,
            sk_d: h("sk_d")?,
            sk_ai: h("sk_ai")?,
            sk_ar: h("sk_ar")?,
            sk_ei: h("sk_ei")?,
            sk_er: h("sk_er")?,
            sk_pi: h("sk_pi")?,
            sk_pr: h("sk_pr")?,
            children,
        })
    }
}

/// One suite directory, loaded.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// The directory name (= the IKE proposal).
    pub name: String,
    /// The directory.
    pub dir: PathBuf,
    /// The `.bin` messages in file-name order.
    pub messages: Vec<FixtureMessage>,
    /// keys.txt.
    pub keys: Keys,
    /// This suite's lines of `../manifest.txt`, if that file exists.
    pub manifest: Option<Vec<ManifestEntry>>,
}

impl Fixture {
    /// Loads the suite in `dir`.
    pub fn load(dir: &Path) -> Result<Fixture, FixtureError> {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| FixtureError(format!("{}: no directory name", dir.display())))?
            .to_string();
        let read =
            |p: &Path| fs::read(p).map_err(|e| FixtureError(format!("{}: {e}", p.display())));
        let keys_text = String::from_utf8(read(&dir.join("keys.txt"))?)
            .map_err(|_| FixtureError(format!("{name}/keys.txt is not UTF-8")))?;
        let keys = Keys::parse(&keys_text).map_err(|e| FixtureError(format!("{name}: {e}")))?;
        let mut files: Vec<String> = fs::read_dir(dir)
            .map_err(|e| FixtureError(format!("{}: {e}", dir.display())))?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".bin"))
            .collect();
        files.sort();
        let mut messages = Vec::new();
        for file in files {
            let Some((seq, exchange, response)) = parse_file_name(&file) else {
                return err(format!("{name}/{file}: not NN-<exchange>-<req|resp>.bin"));
            };
            messages.push(FixtureMessage {
                bytes: read(&dir.join(&file))?,
                file,
                seq,
                exchange,
                response,
            });
        }
        let manifest_path = dir.parent().map(|p| p.join("manifest.txt"));
        let manifest = match manifest_path.filter(|p| p.is_file()) {
            None => None,
            Some(p) => {
                let text = String::from_utf8(read(&p)?)
                    .map_err(|_| FixtureError(format!("{} is not UTF-8", p.display())))?;
                let mut entries = Vec::new();
                for line in text.lines() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let Some((suite, e)) = parse_manifest_line(line) else {
                        return err(format!("{}: bad line {line:?}", p.display()));
                    };
                    if suite == name {
                        entries.push(e);
                    }
                }
                Some(entries)
            }
        };
        Ok(Fixture {
            name,
            dir: dir.to_path_buf(),
            messages,
            keys,
            manifest,
        })
    }

    /// Loads every suite under `root`.
    pub fn load_all(root: &Path) -> Result<Vec<Fixture>, FixtureError> {
        discover(root)?.iter().map(|d| Fixture::load(d)).collect()
    }

    /// The messages of `exchange` in order.
    pub fn of_exchange(&self, exchange: ExchangeType) -> impl Iterator<Item = &FixtureMessage> {
        self.messages.iter().filter(move |m| m.exchange == exchange)
    }

    /// The first request or response of `exchange`.
    pub fn first(&self, exchange: ExchangeType, response: bool) -> Option<&FixtureMessage> {
        self.of_exchange(exchange).find(|m| m.response == response)
    }

    /// The manifest line of `file`, if there is a manifest.
    pub fn manifest_entry(&self, file: &str) -> Option<&ManifestEntry> {
        self.manifest.as_ref()?.iter().find(|e| e.file == file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(
            parse_file_name("03-ike_auth-req.bin"),
            Some((3, ExchangeType::IKE_AUTH, false))
        );
        assert_eq!(
            parse_file_name("06-create_child_sa-resp.bin"),
            Some((6, ExchangeType::CREATE_CHILD_SA, true))
        );
        assert_eq!(parse_file_name("x-ike_auth-req.bin"), None);
        assert_eq!(parse_file_name("01-ike_auth-maybe.bin"), None);
        assert_eq!(parse_file_name("01-bogus-req.bin"), None);
    }

    #[test]
    fn manifest_line() {
        let (suite, e) = parse_manifest_line(
            "s/03-ike_auth-req.bin  IKE_AUTH request msgid=1 sender=initiator \
             192.0.2.1:4500 -> 192.0.2.2:4500 udp=4500 non-esp-marker-removed len=276 frame=3",
        )
        .unwrap();
        assert_eq!(suite, "s");
        assert_eq!(e.file, "03-ike_auth-req.bin");
        assert_eq!(e.exchange, ExchangeType::IKE_AUTH);
        assert!(!e.response && e.sender_is_initiator && e.non_esp_marker);
        assert_eq!((e.message_id, e.udp_port), (1, 4500));
        assert_eq!(
            (e.src.as_str(), e.dst.as_str()),
            ("192.0.2.1:4500", "192.0.2.2:4500")
        );
    }

    #[test]
    fn key_lines() {
        let k = parse_key_lines("# c\n\na = 01ff\nb =\n").unwrap();
        assert_eq!(k["a"], "01ff");
        assert_eq!(k["b"], "");
        assert!(parse_key_lines("a = 1\na = 2\n").is_err());
        assert!(Keys::parse("suite = x\n").is_err());
    }
}
