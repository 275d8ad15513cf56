//! NAT detection (RFC 7296 §2.23) and stateless cookies (§2.6).

use std::net::{IpAddr, SocketAddr};

use ring::{digest, hmac};

/// NAT_DETECTION_*_IP data: SHA-1(SPIi | SPIr | IP address | port)
/// (RFC 7296 §2.23). In the first IKE_SA_INIT request SPIr is zero.
pub(crate) fn natd_hash(spi_i: &[u8; 8], spi_r: &[u8; 8], addr: SocketAddr) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(spi_i);
    ctx.update(spi_r);
    match canonical(addr.ip()) {
        IpAddr::V4(a) => ctx.update(&a.octets()),
        IpAddr::V6(a) => ctx.update(&a.octets()),
    }
    ctx.update(&addr.port().to_be_bytes());
    ctx.finish().as_ref().to_vec()
}

fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    }
}

/// The responder's cookie secret (RFC 7296 §2.6):
/// `Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)`, here
/// with HMAC-SHA-256 keyed by the secret. Two generations are accepted so a
/// rotation does not reject cookies in flight.
pub(crate) struct CookieJar {
    version: u8,
    current: hmac::Key,
    previous: Option<hmac::Key>,
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieJar")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl CookieJar {
    pub(crate) fn new(secret: &[u8; 32]) -> Self {
        CookieJar {
            version: 0,
            current: hmac::Key::new(hmac::HMAC_SHA256, secret),
            previous: None,
        }
    }

    /// Replaces the secret; the old one stays valid for one more period.
    pub(crate) fn rotate(&mut self, secret: &[u8; 32]) {
        let old = std::mem::replace(&mut self.current, hmac::Key::new(hmac::HMAC_SHA256, secret));
        self.previous = Some(old);
        self.version = self.version.wrapping_add(1);
    }

    fn compute(key: &hmac::Key, version: u8, ni: &[u8], ip: IpAddr, spi_i: &[u8; 8]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(key);
        ctx.update(ni);
        match canonical(ip) {
            IpAddr::V4(a) => ctx.update(&a.octets()),
            IpAddr::V6(a) => ctx.update(&a.octets()),
        }
        ctx.update(spi_i);
        let mut out = vec![version];
        out.extend_from_slice(ctx.sign().as_ref());
        out
    }

    pub(crate) fn make(&self, ni: &[u8], ip: IpAddr, spi_i: &[u8; 8]) -> Vec<u8> {
        Self::compute(&self.current, self.version, ni, ip, spi_i)
    }

    pub(crate) fn check(&self, cookie: &[u8], ni: &[u8], ip: IpAddr, spi_i: &[u8; 8]) -> bool {
        let Some(&v) = cookie.first() else {
            return false;
        };
        let key = if v == self.version {
            &self.current
        } else if v == self.version.wrapping_sub(1) {
            match &self.previous {
                Some(k) => k,
                None => return false,
            }
        } else {
            return false;
        };
        let expected = Self::compute(key, v, ni, ip, spi_i);
        crate::crypto::SecretBytes::new(expected).ct_eq(cookie)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_round_trip_and_rotation() {
        let mut jar = CookieJar::new(&[7; 32]);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let c = jar.make(b"nonce", ip, &[1; 8]);
        assert!(jar.check(&c, b"nonce", ip, &[1; 8]));
        assert!(!jar.check(&c, b"nonce", ip, &[2; 8]));
        jar.rotate(&[8; 32]);
        assert!(
            jar.check(&c, b"nonce", ip, &[1; 8]),
            "previous secret still valid"
        );
        jar.rotate(&[9; 32]);
        assert!(
            !jar.check(&c, b"nonce", ip, &[1; 8]),
            "two rotations later it is not"
        );
    }

    #[test]
    fn natd_depends_on_port() {
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let b: SocketAddr = "192.0.2.1:4500".parse().unwrap();
        assert_ne!(
            natd_hash(&[1; 8], &[0; 8], a),
            natd_hash(&[1; 8], &[0; 8], b)
        );
        assert_eq!(natd_hash(&[1; 8], &[0; 8], a).len(), 20);
    }
}
