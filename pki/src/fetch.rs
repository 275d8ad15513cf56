//! CRL fetching without I/O (issue 14 §2): the URIs vtid fetches CRLs
//! from (`http://`, `file://`), the HTTP/1.0 request it sends and a
//! bounded reader of the response. The daemon moves the bytes
//! (`vtid/src/crlfetch.rs`); everything that looks at them is here, so it
//! is tested and fuzzed without sockets.
//!
//! Everything a server sends is untrusted: the status line and headers are
//! bounded in size and count, the body by the caller's limit (a declared
//! `Content-Length` beyond it is refused before the body is read), chunked
//! framing is decoded with the same limit, and only `http://` redirects are
//! followed (a server never makes vtid read a local file).

use std::fmt;

/// Largest status line plus headers accepted (bytes).
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header lines accepted.
pub const MAX_HEADERS: usize = 64;
/// Longest URI accepted.
pub const MAX_URI: usize = 2048;

/// Why a fetch failed; the message names what the server or URI did.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

fn err<T>(s: impl Into<String>) -> Result<T, FetchError> {
    Err(FetchError(s.into()))
}

/// A CRL distribution point vtid can fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Uri {
    /// `http://host[:port]/path` (RFC 9110 §4.2.1).
    Http {
        /// Host name or address (IPv6 without brackets).
        host: String,
        /// Port (80 unless given).
        port: u16,
        /// Path and query, starting with `/`.
        path: String,
    },
    /// `file:///path` (RFC 8089): a local file.
    File(String),
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Http { host, port, path } => {
                if host.contains(':') {
                    write!(f, "http://[{host}]:{port}{path}")
                } else {
                    write!(f, "http://{host}:{port}{path}")
                }
            }
            Uri::File(p) => write!(f, "file://{p}"),
        }
    }
}

fn unhex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes (RFC 3986 §2.1).
fn percent_decode(s: &str) -> Result<String, FetchError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hi = b.get(i + 1).copied().and_then(unhex);
            let lo = b.get(i + 2).copied().and_then(unhex);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return err("bad %-escape in URI");
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| FetchError("URI path is not UTF-8".into()))
}

impl Uri {
    /// Parses a CRL distribution point URI. `https://`, `ldap://` and
    /// other schemes are refused with a message saying so.
    pub fn parse(s: &str) -> Result<Uri, FetchError> {
        if s.len() > MAX_URI {
            return err(format!("URI longer than {MAX_URI} bytes"));
        }
        if s.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return err("URI contains spaces or control characters");
        }
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| FetchError("not a URI (no scheme://)".into()))?;
        match scheme.to_ascii_lowercase().as_str() {
            "http" => {}
            "file" => {
                // file:///path or file://localhost/path (RFC 8089 §2).
                let path = if let Some(p) = rest.strip_prefix("localhost/") {
                    format!("/{p}")
                } else if rest.starts_with('/') {
                    rest.to_string()
                } else {
                    return err("file URI with a remote host");
                };
                let path = percent_decode(&path)?;
                if path.contains('\0') {
                    return err("file URI with a NUL");
                }
                return Ok(Uri::File(path));
            }
            other => {
                return err(format!(
                    "{other}:// CRL URIs are not fetched (vtid fetches http:// and file://)"
                ))
            }
        }
        let (authority, path) = match rest.find(['/', '?']).and_then(|i| rest.split_at_checked(i)) {
            Some(split) => split,
            None => (rest, "/"),
        };
        let path = match path.split_once('#') {
            Some((p, _)) => p,
            None => path,
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        if authority.contains('@') {
            return err("URI with user information");
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, tail) = v6
                .split_once(']')
                .ok_or_else(|| FetchError("unterminated IPv6 literal".into()))?;
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return err("bad IPv6 literal");
            }
            let port = match tail {
                "" => None,
                t => Some(
                    t.strip_prefix(':')
                        .ok_or_else(|| FetchError("junk after IPv6 literal".into()))?,
                ),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return err("URI without a host");
        }
        if !host.contains(':')
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        {
            return err("bad host name in URI");
        }
        let port = match port {
            None | Some("") => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| FetchError(format!("bad port '{p}' in URI")))?,
        };
        Ok(Uri::Http { host, port, path })
    }

    /// The HTTP/1.0 GET request for an `http://` URI (RFC 1945 §5; with
    /// the `Host` header of RFC 9110 §7.2, which virtual hosts need).
    /// HTTP/1.0 with `Connection: close` means the server ends the body by
    /// closing, and a compliant server never sends chunked framing.
    pub fn request(&self) -> Option<Vec<u8>> {
        let Uri::Http { host, port, path } = self else {
            return None;
        };
        let h = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let host_hdr = if *port == 80 {
            h
        } else {
            format!("{h}:{port}")
        };
        Some(
            format!(
                "GET {path} HTTP/1.0\r\nHost: {host_hdr}\r\nUser-Agent: vtid\r\n\
                 Accept: application/pkix-crl, */*\r\nConnection: close\r\n\r\n"
            )
            .into_bytes(),
        )
    }

    /// Resolves a `Location` header against this URI (RFC 9110 §10.2.2):
    /// an absolute `http://` URI, or an absolute path on the same server.
    /// Redirects to other schemes (`file://` above all) are refused.
    pub fn redirect(&self, location: &str) -> Result<Uri, FetchError> {
        let Uri::Http { host, port, .. } = self else {
            return err("redirect from a non-HTTP URI");
        };
        let loc = location.trim();
        if loc.starts_with('/') && !loc.starts_with("//") {
            let authority = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            return Uri::parse(&format!("http://{authority}{loc}"));
        }
        match Uri::parse(loc)? {
            u @ Uri::Http { .. } => Ok(u),
            Uri::File(_) => err("redirect to a file:// URI refused"),
        }
    }
}

/// The status line and the headers that matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Reason phrase (for messages).
    pub reason: String,
    /// `Content-Length`.
    pub content_length: Option<usize>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// `Location`.
    pub location: Option<String>,
    /// Length of the status line and headers, the blank line included.
    pub len: usize,
}

/// What a complete response says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 200: the body.
    Body(Vec<u8>),
    /// A redirect (301, 302, 303, 307, 308) to this location.
    Redirect(String),
}

/// Progress of a response being read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Read more (or call [`HttpReader::finish`] at end of stream).
    More,
    /// The response is complete; stop reading.
    Done(Outcome),
}

/// Where the head ends: after the first blank line (CRLF or, leniently,
/// bare LF line ends, RFC 9112 §2.2).
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parses the status line and headers (`buf` holds them whole, ending in
/// the blank line).
pub fn parse_head(buf: &[u8], len: usize) -> Result<Head, FetchError> {
    let text = std::str::from_utf8(buf.get(..len).unwrap_or(buf))
        .map_err(|_| FetchError("response headers are not text".into()))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !(version == "HTTP/1.0" || version == "HTTP/1.1") {
        return err(format!(
            "not an HTTP/1.x response (status line '{}')",
            status_line.chars().take(40).collect::<String>()
        ));
    }
    let code = parts.next().unwrap_or_default();
    let status = code
        .parse::<u16>()
        .ok()
        .filter(|c| code.len() == 3 && (100..600).contains(c))
        .ok_or_else(|| FetchError(format!("bad HTTP status code '{code}'")))?;
    let reason: String = parts
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(60)
        .collect();
    let mut head = Head {
        status,
        reason,
        content_length: None,
        chunked: false,
        location: None,
        len,
    };
    let mut count = 0usize;
    for line in lines {
        if line.is_empty() {
            break;
        }
        count += 1;
        if count > MAX_HEADERS {
            return err(format!("more than {MAX_HEADERS} response headers"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return err("malformed response header line");
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                let n = value
                    .parse::<usize>()
                    .map_err(|_| FetchError(format!("bad Content-Length '{value}'")))?;
                if head.content_length.is_some_and(|m| m != n) {
                    return err("conflicting Content-Length headers");
                }
                head.content_length = Some(n);
            }
            "transfer-encoding" => {
                let last = value.rsplit(',').next().unwrap_or_default().trim();
                if last.eq_ignore_ascii_case("chunked") {
                    head.chunked = true;
                } else if !last.eq_ignore_ascii_case("identity") {
                    return err(format!("unsupported Transfer-Encoding '{value}'"));
                }
            }
            "location" => head.location = Some(value.to_string()),
            _ => {}
        }
    }
    Ok(head)
}

/// Decodes a complete chunked body (RFC 9112 §7.1), at most `max` bytes of
/// data; extensions and trailers are skipped.
pub fn decode_chunked(mut b: &[u8], max: usize) -> Result<Vec<u8>, FetchError> {
    let mut out = Vec::new();
    loop {
        let nl = b
            .iter()
            .position(|&c| c == b'\n')
            .ok_or_else(|| FetchError("truncated chunked body".into()))?;
        let line = b.get(..nl).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let size_txt = line.split(|&c| c == b';').next().unwrap_or_default();
        let size_txt = std::str::from_utf8(size_txt)
            .map_err(|_| FetchError("bad chunk size".into()))?
            .trim();
        if size_txt.is_empty() || size_txt.len() > 8 {
            return err("bad chunk size");
        }
        let size =
            usize::from_str_radix(size_txt, 16).map_err(|_| FetchError("bad chunk size".into()))?;
        b = b.get(nl + 1..).unwrap_or_default();
        if size == 0 {
            return Ok(out);
        }
        if out.len().saturating_add(size) > max {
            return err(format!("body larger than {max} bytes"));
        }
        let data = b
            .get(..size)
            .ok_or_else(|| FetchError("truncated chunk".into()))?;
        out.extend_from_slice(data);
        b = b.get(size..).unwrap_or_default();
        b = b
            .strip_prefix(b"\r\n")
            .or_else(|| b.strip_prefix(b"\n"))
            .ok_or_else(|| FetchError("chunk not followed by CRLF".into()))?;
    }
}

/// Reads one HTTP response from a stream of byte slices, never holding
/// more than the head limit plus the body limit (plus chunk framing).
#[derive(Debug)]
pub struct HttpReader {
    buf: Vec<u8>,
    head: Option<Head>,
    max_body: usize,
}

impl HttpReader {
    /// A reader that accepts bodies of at most `max_body` bytes.
    pub fn new(max_body: usize) -> HttpReader {
        HttpReader {
            buf: Vec::new(),
            head: None,
            max_body,
        }
    }

    /// The limit on buffered bytes: head, body and chunk framing (at most
    /// one size line per 16 bytes of data).
    fn cap(&self) -> usize {
        MAX_HEAD
            .saturating_add(self.max_body)
            .saturating_add(self.max_body / 2)
            .saturating_add(64)
    }

    /// Adds bytes read from the server.
    pub fn feed(&mut self, data: &[u8]) -> Result<Step, FetchError> {
        if self.buf.len().saturating_add(data.len()) > self.cap() {
            return err(format!("response larger than {} bytes", self.cap()));
        }
        self.buf.extend_from_slice(data);
        if self.head.is_none() {
            match find_head_end(&self.buf) {
                Some(end) => {
                    let head = parse_head(&self.buf, end)?;
                    self.check_head(&head)?;
                    self.head = Some(head);
                }
                None if self.buf.len() > MAX_HEAD => {
                    return err(format!("response headers longer than {MAX_HEAD} bytes"))
                }
                None => return Ok(Step::More),
            }
        }
        let Some(head) = &self.head else {
            return Ok(Step::More);
        };
        if head.status != 200 {
            return self.outcome().map(Step::Done);
        }
        if let (Some(n), false) = (head.content_length, head.chunked) {
            if self.buf.len().saturating_sub(head.len) >= n {
                return self.outcome().map(Step::Done);
            }
        }
        if !head.chunked && head.content_length.is_none() {
            let body = self.buf.len().saturating_sub(head.len);
            if body > self.max_body {
                return err(format!("body larger than {} bytes", self.max_body));
            }
        }
        Ok(Step::More)
    }

    fn check_head(&self, head: &Head) -> Result<(), FetchError> {
        if head.status == 200 && !head.chunked {
            if let Some(n) = head.content_length {
                if n > self.max_body {
                    return err(format!(
                        "server announces {n} bytes, more than the limit of {}",
                        self.max_body
                    ));
                }
            }
        }
        Ok(())
    }

    fn outcome(&self) -> Result<Outcome, FetchError> {
        let Some(head) = &self.head else {
            return err("connection closed before the response headers");
        };
        match head.status {
            200 => {}
            301 | 302 | 303 | 307 | 308 => {
                return head
                    .location
                    .clone()
                    .map(Outcome::Redirect)
                    .ok_or_else(|| FetchError(format!("HTTP {} without Location", head.status)))
            }
            s => return err(format!("HTTP {s} {}", head.reason)),
        }
        let body = self.buf.get(head.len..).unwrap_or_default();
        if head.chunked {
            return decode_chunked(body, self.max_body).map(Outcome::Body);
        }
        let body = match head.content_length {
            Some(n) => body.get(..n).ok_or_else(|| {
                FetchError(format!("body truncated ({} of {n} bytes)", body.len()))
            })?,
            None => body,
        };
        if body.len() > self.max_body {
            return err(format!("body larger than {} bytes", self.max_body));
        }
        Ok(Outcome::Body(body.to_vec()))
    }

    /// The server closed the connection: the response as read.
    pub fn finish(&mut self) -> Result<Outcome, FetchError> {
        if self.head.is_none() {
            if self.buf.is_empty() {
                return err("the server closed the connection without a response");
            }
            return err("the server closed the connection inside the response headers");
        }
        self.outcome()
    }
}

/// Reads a whole response from bytes (tests, fuzzing): feeds `data` and
/// finishes at its end.
pub fn parse_response(data: &[u8], max_body: usize) -> Result<Outcome, FetchError> {
    let mut r = HttpReader::new(max_body);
    match r.feed(data)? {
        Step::Done(o) => Ok(o),
        Step::More => r.finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_vtid_fetches_and_refuses() {
        assert_eq!(
            Uri::parse("http://crl.example.org/inter.crl").unwrap(),
            Uri::Http {
                host: "crl.example.org".into(),
                port: 80,
                path: "/inter.crl".into()
            }
        );
        assert_eq!(
            Uri::parse("HTTP://198.51.100.9:8080").unwrap(),
            Uri::Http {
                host: "198.51.100.9".into(),
                port: 8080,
                path: "/".into()
            }
        );
        assert_eq!(
            Uri::parse("http://[2001:db8::1]:81/a?b=c#frag").unwrap(),
            Uri::Http {
                host: "2001:db8::1".into(),
                port: 81,
                path: "/a?b=c".into()
            }
        );
        assert_eq!(
            Uri::parse("file:///etc/swanctl/x509crl/a%20b.crl").unwrap(),
            Uri::File("/etc/swanctl/x509crl/a b.crl".into())
        );
        assert_eq!(
            Uri::parse("file://localhost/tmp/x.crl").unwrap(),
            Uri::File("/tmp/x.crl".into())
        );
        for bad in [
            "https://crl.example.org/x.crl",
            "ldap://ldap.example.org/cn=CA?certificateRevocationList",
            "http://",
            "http://user@host/x",
            "http://host:0/x",
            "http://host:99999/x",
            "http://[2001:db8::1/x",
            "http://ho st/x",
            "http://host/x\r\nInjected: yes",
            "file://remote/x",
            "file:///x%zz",
            "file:///a%00b",
            "crl.example.org/x.crl",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
        assert!(Uri::parse(&format!("http://h/{}", "a".repeat(MAX_URI))).is_err());
    }

    #[test]
    fn request_is_http10_with_host() {
        let r = Uri::parse("http://[2001:db8::1]:8080/x.crl")
            .unwrap()
            .request()
            .unwrap();
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "GET /x.crl HTTP/1.0\r\nHost: [2001:db8::1]:8080\r\nUser-Agent: vtid\r\n\
             Accept: application/pkix-crl, */*\r\nConnection: close\r\n\r\n"
        );
        assert!(Uri::File("/x".into()).request().is_none());
    }

    #[test]
    fn redirects_stay_on_http() {
        let u = Uri::parse("http://a.example:81/x").unwrap();
        assert_eq!(
            u.redirect("/y.crl").unwrap(),
            Uri::parse("http://a.example:81/y.crl").unwrap()
        );
        assert_eq!(
            u.redirect("http://b.example/z").unwrap(),
            Uri::parse("http://b.example/z").unwrap()
        );
        assert!(u.redirect("file:///etc/shadow").is_err());
        assert!(u.redirect("https://b.example/z").is_err());
        assert!(u.redirect("//b.example/z").is_err());
    }

    #[test]
    fn responses() {
        let max = 100;
        assert_eq!(
            parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc", max).unwrap(),
            Outcome::Body(b"abc".to_vec())
        );
        // Without Content-Length the body ends with the connection.
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\nServer: x\n\nabcdef", max).unwrap(),
            Outcome::Body(b"abcdef".to_vec())
        );
        assert_eq!(
            parse_response(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: z\r\n\r\n",
                max
            )
            .unwrap(),
            Outcome::Body(b"abcde".to_vec())
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 302 Found\r\nLocation: /b.crl\r\n\r\n", max).unwrap(),
            Outcome::Redirect("/b.crl".into())
        );
        let e = parse_response(b"HTTP/1.1 404 Not Found\r\n\r\n", max).unwrap_err();
        assert_eq!(e.to_string(), "HTTP 404 Not Found");
        for bad in [
            &b""[..],
            b"garbage\r\n\r\n",
            b"HTTP/2 200 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX",
            b"HTTP/1.1 301 Moved\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Le",
        ] {
            assert!(
                parse_response(bad, max).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn limits_hold_against_a_hostile_server() {
        // A declared body beyond the limit stops before it is read.
        let mut r = HttpReader::new(1000);
        assert!(r
            .feed(b"HTTP/1.0 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
            .is_err());
        // An undeclared one stops at the limit.
        let mut r = HttpReader::new(1000);
        assert_eq!(r.feed(b"HTTP/1.0 200 OK\r\n\r\n").unwrap(), Step::More);
        let mut fed = 0;
        let e = loop {
            match r.feed(&[b'x'; 100]) {
                Ok(Step::More) => fed += 100,
                Ok(Step::Done(_)) => panic!("done"),
                Err(e) => break e,
            }
        };
        assert!(fed <= 1000 && e.to_string().contains("larger than"), "{e}");
        // Chunked: the decoded size is bounded too, and so is the framing.
        let mut body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..20 {
            body.extend_from_slice(b"64\r\n");
            body.extend_from_slice(&[b'y'; 100]);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        assert!(parse_response(&body, 1000).is_err());
        // Endless headers, one byte at a time.
        let mut r = HttpReader::new(1000);
        r.feed(b"HTTP/1.0 200 OK\r\n").unwrap();
        let mut n = 0;
        let e = loop {
            n += 1;
            if let Err(e) = r.feed(b"X") {
                break e;
            }
        };
        assert!(
            n <= MAX_HEAD && e.to_string().contains("headers longer"),
            "{e}"
        );
        // Too many headers.
        let mut h = b"HTTP/1.0 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            h.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        h.extend_from_slice(b"\r\n");
        assert!(parse_response(&h, 1000).is_err());
        // A complete Content-Length body ends the read without waiting for
        // the server to close.
        let mut r = HttpReader::new(1000);
        assert_eq!(
            r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab")
                .unwrap(),
            Step::Done(Outcome::Body(b"ab".to_vec()))
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300), max in 0usize..200) {
            let _ = parse_response(&data, max);
            if let Ok(s) = std::str::from_utf8(&data) {
                if let Ok(u) = Uri::parse(s) {
                    let _ = u.request();
                    let _ = u.redirect(s);
                    let _ = u.to_string();
                }
            }
        }

        #[test]
        fn split_feeds_agree(body in proptest::collection::vec(proptest::num::u8::ANY, 0..200), cut in 0usize..400) {
            let mut msg = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
            msg.extend_from_slice(&body);
            let cut = cut.min(msg.len());
            let mut r = HttpReader::new(200);
            let out = match r.feed(&msg[..cut]).unwrap() {
                Step::Done(o) => o,
                Step::More => match r.feed(&msg[cut..]).unwrap() {
                    Step::Done(o) => o,
                    Step::More => r.finish().unwrap(),
                },
            };
            proptest::prop_assert_eq!(out, Outcome::Body(body));
        }
    }
}
