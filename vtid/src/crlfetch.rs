//! The CRL fetcher (issue 14 §2): a thread that fetches the CRLs the
//! credential store wants (`Store::crl_uris_due`: distribution points of
//! certificates being verified and `authorities { crl_uris }`) over
//! `http://` and from `file://` URIs, and hands them to the store, which
//! checks their signatures and keeps them until their nextUpdate.
//!
//! The engine never waits for a fetch: a verification that needs a CRL
//! being fetched answers `Pending`, the message is dropped as if lost, and
//! the peer's retransmission is decided with the CRL (or without it, under
//! the `revocation` policy, once the fetch failed).
//!
//! Everything a server sends is untrusted ([`pki::fetch`] parses it): each
//! fetch has a deadline for the whole exchange (a slow-drip server is cut
//! off), the body a size limit (a huge one is refused, mostly before it is
//! read), redirects are bounded and stay on `http://`, and `file://` reads
//! only regular files up to the same size. Fetches run one at a time on
//! this thread, so a hostile server delays other CRLs by one deadline at
//! most and never the IKE engine. Host names are resolved with the
//! system's resolver (its own timeouts apply).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pki::fetch::{FetchError, HttpReader, Outcome, Step, Uri};
use pki::{Crl, SharedStore};

/// Bounds of one fetch.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time to connect to one address.
    pub connect: Duration,
    /// Time for the whole fetch, redirects included.
    pub total: Duration,
    /// Largest CRL accepted (bytes).
    pub max_body: usize,
    /// Redirects followed at most.
    pub redirects: usize,
    /// A failed URI is tried again after this many seconds (and a CRL
    /// past its nextUpdate refreshed at most this often).
    pub retry: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(15),
            max_body: 4 * 1024 * 1024,
            redirects: 3,
            retry: 60,
        }
    }
}

fn fail<T>(s: impl Into<String>) -> Result<T, FetchError> {
    Err(FetchError(s.into()))
}

/// Reads a `file://` CRL: a regular file of at most `max` bytes.
fn read_file(path: &str, max: usize) -> Result<Vec<u8>, FetchError> {
    let f = std::fs::File::open(path).map_err(|e| FetchError(format!("{path}: {e}")))?;
    let meta = f
        .metadata()
        .map_err(|e| FetchError(format!("{path}: {e}")))?;
    if !meta.is_file() {
        return fail(format!("{path} is not a regular file"));
    }
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    f.take(limit)
        .read_to_end(&mut out)
        .map_err(|e| FetchError(format!("{path}: {e}")))?;
    if out.len() > max {
        return fail(format!("{path} is larger than {max} bytes"));
    }
    Ok(out)
}

/// The time left before `deadline`, or an error naming what timed out.
fn left(deadline: Instant, what: &str) -> Result<Duration, FetchError> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| FetchError(format!("timed out {what}")))
}

/// One HTTP GET: connects to the first address that answers, sends the
/// request, reads the response within the deadline.
fn http_get(uri: &Uri, lim: &Limits, deadline: Instant) -> Result<Outcome, FetchError> {
    let Uri::Http { host, port, .. } = uri else {
        return fail("not an http:// URI");
    };
    let request = uri
        .request()
        .ok_or_else(|| FetchError("not an http:// URI".into()))?;
    let addrs: Vec<SocketAddr> = (host.as_str(), *port)
        .to_socket_addrs()
        .map_err(|e| FetchError(format!("cannot resolve {host}: {e}")))?
        .take(8)
        .collect();
    let mut last = FetchError(format!("{host} has no address"));
    let mut stream = None;
    for a in addrs {
        let t = left(deadline, "connecting")?.min(lim.connect);
        match TcpStream::connect_timeout(&a, t) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = FetchError(format!("cannot connect to {a}: {e}")),
        }
    }
    let mut s = stream.ok_or(last)?;
    s.set_write_timeout(Some(left(deadline, "sending the request")?))
        .map_err(|e| FetchError(e.to_string()))?;
    s.write_all(&request)
        .map_err(|e| FetchError(format!("sending the request: {e}")))?;
    let mut reader = HttpReader::new(lim.max_body);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        s.set_read_timeout(Some(left(deadline, "reading the response")?))
            .map_err(|e| FetchError(e.to_string()))?;
        let n = match s.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return fail("timed out reading the response")
            }
            Err(e) => return fail(format!("reading the response: {e}")),
        };
        if n == 0 {
            return reader.finish();
        }
        match reader.feed(buf.get(..n).unwrap_or_default())? {
            Step::More => {}
            Step::Done(o) => return Ok(o),
        }
    }
}

/// Fetches the bytes of a CRL from `uri` (following bounded redirects).
pub fn fetch_bytes(uri: &str, lim: &Limits) -> Result<Vec<u8>, FetchError> {
    let mut u = Uri::parse(uri)?;
    let deadline = Instant::now() + lim.total;
    for _ in 0..=lim.redirects {
        if let Uri::File(p) = &u {
            return read_file(p, lim.max_body);
        }
        match http_get(&u, lim, deadline)? {
            Outcome::Body(b) => return Ok(b),
            Outcome::Redirect(loc) => u = u.redirect(&loc)?,
        }
    }
    fail(format!("more than {} redirects", lim.redirects))
}

/// Fetches and parses a CRL (PEM or DER).
pub fn fetch_crl(uri: &str, lim: &Limits) -> Result<Crl, String> {
    let bytes = fetch_bytes(uri, lim).map_err(|e| e.to_string())?;
    Crl::from_file_bytes(&bytes).map_err(|e| format!("not a CRL: {e}"))
}

/// Fetches every due URI of `store` once, recording each outcome.
/// Returns how many were fetched.
pub fn fetch_due(store: &SharedStore, lim: &Limits) -> usize {
    let due = {
        let mut s = store.lock();
        let due = s.crl_uris_due(store.now(), lim.retry);
        for u in &due {
            s.crl_fetch_started(u);
        }
        due
    };
    for uri in &due {
        let result = fetch_crl(uri, lim);
        let issuer = result.as_ref().ok().map(|c| pki::dn::to_string(&c.issuer));
        match (store.lock().crl_fetched(uri, store.now(), result), issuer) {
            (None, Some(issuer)) => {
                tracing::info!(target: "vtid::creds", "fetched the CRL of \"{issuer}\" from {uri}")
            }
            (e, _) => tracing::warn!(
                target: "vtid::creds",
                "fetching the CRL at {uri} failed: {}",
                e.unwrap_or_default()
            ),
        }
    }
    due.len()
}

/// The running fetcher: wakes it (from the store's verification) and ends
/// it when dropped.
#[derive(Debug)]
pub struct Fetcher {
    wake: SyncSender<()>,
}

impl Fetcher {
    /// Starts the fetcher thread for `store` and attaches it, so
    /// verification waits for the CRLs it fetches.
    pub fn spawn(store: Arc<SharedStore>, lim: Limits) -> std::io::Result<Fetcher> {
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        let weak = Arc::downgrade(&store);
        std::thread::Builder::new()
            .name("crl-fetch".into())
            .spawn(move || run(weak, rx, lim))?;
        let w = tx.clone();
        store.attach_fetcher(Box::new(move || {
            // Full means a wake-up is already pending.
            let _ = w.try_send(());
        }));
        Ok(Fetcher { wake: tx })
    }

    /// Wakes the fetcher (after a reload, for instance).
    pub fn wake(&self) {
        let _ = self.wake.try_send(());
    }
}

fn run(store: std::sync::Weak<SharedStore>, rx: Receiver<()>, lim: Limits) {
    loop {
        let Some(s) = store.upgrade() else { return };
        fetch_due(&s, &lim);
        let next = s.lock().crl_next_due(lim.retry);
        let now = s.now();
        drop(s);
        // Sleep until the next URI falls due (at most an hour, so a clock
        // step is noticed) or a verification wants a fetch.
        let wait = next.map_or(3600, |t| t.saturating_sub(now).clamp(1, 3600));
        let wait = Duration::from_secs(u64::try_from(wait).unwrap_or(1));
        match rx.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server on loopback that runs `serve` on the connection.
    fn server(serve: impl FnOnce(TcpStream) + Send + 'static) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut req = [0u8; 1024];
                let _ = s.read(&mut req);
                serve(s);
            }
        });
        format!("http://127.0.0.1:{port}/x.crl")
    }

    fn lim() -> Limits {
        Limits {
            connect: Duration::from_secs(2),
            total: Duration::from_secs(2),
            max_body: 64 * 1024,
            redirects: 2,
            retry: 60,
        }
    }

    #[test]
    fn a_plain_response_and_a_redirect() {
        let uri = server(|mut s| {
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello");
        });
        assert_eq!(fetch_bytes(&uri, &lim()).unwrap(), b"hello");
        let target = server(|mut s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        });
        let path = target.split_once(":").unwrap().1.to_string();
        let port = path
            .rsplit_once(':')
            .unwrap()
            .1
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let uri = server(move |mut s| {
            let _ = write!(
                s,
                "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/y\r\n\r\n"
            );
        });
        assert_eq!(fetch_bytes(&uri, &lim()).unwrap(), b"ok");
    }

    #[test]
    fn a_hostile_server_is_cut_off() {
        // Slow drip: a byte every 100 ms never ends before the deadline.
        let uri = server(|mut s| {
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
            for _ in 0..100 {
                if s.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let t = Instant::now();
        let e = fetch_bytes(&uri, &lim()).unwrap_err();
        assert!(e.0.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
        // Silence after connecting.
        let uri = server(|_s| std::thread::sleep(Duration::from_secs(5)));
        let e = fetch_bytes(&uri, &lim()).unwrap_err();
        assert!(e.0.contains("timed out"), "{e}");
        // A huge body without Content-Length stops at the limit.
        let uri = server(|mut s| {
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
            let chunk = [b'z'; 8192];
            for _ in 0..10_000 {
                if s.write_all(&chunk).is_err() {
                    return;
                }
            }
        });
        let e = fetch_bytes(&uri, &lim()).unwrap_err();
        assert!(e.0.contains("larger than"), "{e}");
        // Garbage.
        let uri = server(|mut s| {
            let _ = s.write_all(&[0xff; 300]);
        });
        assert!(fetch_bytes(&uri, &lim()).is_err());
        // A 200 whose body is no CRL.
        let uri = server(|mut s| {
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nnot a crl");
        });
        let e = fetch_crl(&uri, &lim()).unwrap_err();
        assert!(e.contains("not a CRL"), "{e}");
        // Redirect loops end.
        let uri = server(|mut s| {
            let _ = s.write_all(b"HTTP/1.0 301 Moved\r\nLocation: /again\r\n\r\n");
        });
        assert!(fetch_bytes(&uri, &lim()).is_err());
        // A redirect to a local file is refused.
        let uri = server(|mut s| {
            let _ = s.write_all(b"HTTP/1.0 302 Found\r\nLocation: file:///etc/passwd\r\n\r\n");
        });
        let e = fetch_bytes(&uri, &lim()).unwrap_err();
        assert!(e.0.contains("file://"), "{e}");
        // Nobody listening.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        assert!(fetch_bytes(&format!("http://127.0.0.1:{port}/x"), &lim()).is_err());
    }

    #[test]
    fn files() {
        let dir = std::env::temp_dir().join(format!("vtid-crlfetch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a b.crl");
        std::fs::write(&f, b"data").unwrap();
        let uri = format!("file://{}", dir.join("a%20b.crl").display());
        assert_eq!(fetch_bytes(&uri, &lim()).unwrap(), b"data");
        std::fs::write(&f, vec![0u8; 64 * 1024 + 1]).unwrap();
        assert!(fetch_bytes(&uri, &lim()).unwrap_err().0.contains("larger"));
        let e = fetch_bytes(&format!("file://{}", dir.display()), &lim()).unwrap_err();
        assert!(e.0.contains("not a regular file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
