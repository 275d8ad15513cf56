//! vtid as a RADIUS client (strongSwan's eap-radius): EAP relayed to a
//! RADIUS server (RFC 3579), accounting (RFC 2866, RFC 2869) and the
//! Disconnect-Requests a server sends to end a session (RFC 5176).
//!
//! * [`packet`]: the codec, authenticators, Message-Authenticator,
//!   EAP-Message fragments and MPPE keys.
//! * [`client`]: transactions with retransmission and failover between
//!   servers.
//! * [`EapRadius`]: one client's EAP conversation through RADIUS: State
//!   kept between rounds, the MSK from the MS-MPPE keys, Framed-IP-Address,
//!   Framed-Pool and Class from the Access-Accept.
//! * [`accounting_request`]: Start, Interim-Update and Stop with byte and
//!   packet counts.
//! * [`Disconnect`]: a verified Disconnect-Request and its ACK/NAK.

pub mod client;
pub mod packet;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::eap::{self, EapPayload, Msk};
use packet::{attr, code, decrypt_mppe_key, ms, verify_request, Packet, RadiusError};

pub use client::{Handle, Kind, RadiusClient, Reply, Server, Timers, Transmit};

/// What an Access-Accept says about the client.
#[derive(Debug, Default)]
pub struct AcceptInfo {
    /// The MSK: MS-MPPE-Recv-Key || MS-MPPE-Send-Key (RFC 3579 §3.6 via
    /// RFC 2548), as strongSwan's eap-radius makes it.
    pub msk: Option<Msk>,
    /// Framed-IP-Address / Framed-IPv6-Address: the virtual IP to assign.
    pub framed_ip: Vec<IpAddr>,
    /// Framed-Pool: the pool to take it from (RFC 2869 §5.18).
    pub framed_pool: Option<String>,
    /// Class values, to echo in accounting (RFC 2865 §5.25) and, with
    /// `class_group`, as group names.
    pub class: Vec<Vec<u8>>,
    /// Session-Timeout in seconds.
    pub session_timeout: Option<u32>,
}

impl AcceptInfo {
    /// The pools to try for the client's address, in order: Framed-Pool,
    /// then (with `class_group`) each Class that is valid UTF-8.
    pub fn pools(&self, class_group: bool) -> Vec<String> {
        let mut v: Vec<String> = self.framed_pool.iter().cloned().collect();
        if class_group {
            v.extend(
                self.class
                    .iter()
                    .filter_map(|c| std::str::from_utf8(c).ok())
                    .map(str::to_string),
            );
        }
        v
    }
}

/// What the RADIUS server's reply means for the EAP conversation.
#[derive(Debug)]
pub enum RadiusStep {
    /// Access-Challenge: relay this EAP Request to the client.
    Challenge(EapPayload),
    /// Access-Accept: relay `eap` (EAP-Success) and authorize the client
    /// with `info`.
    Accept {
        /// The EAP-Success (one is made if the server sent none).
        eap: EapPayload,
        /// What the server assigned.
        info: AcceptInfo,
    },
    /// Access-Reject: relay `eap` (EAP-Failure).
    Reject {
        /// The EAP-Failure.
        eap: EapPayload,
        /// Reply-Message, if any.
        message: Option<String>,
    },
}

/// One client's EAP conversation through the RADIUS server (RFC 3579
/// §2.1: the NAS passes EAP through; the server runs the method).
#[derive(Debug)]
pub struct EapRadius {
    identity: Vec<u8>,
    nas_identifier: Vec<u8>,
    calling_station: Option<String>,
    state: Option<Vec<u8>>,
    last_identifier: u8,
}

impl EapRadius {
    /// A conversation for `identity` (User-Name), from a client at
    /// `calling_station` (its IKE address, as strongSwan sends it).
    pub fn new(
        identity: Vec<u8>,
        nas_identifier: Vec<u8>,
        calling_station: Option<String>,
    ) -> EapRadius {
        EapRadius {
            identity,
            nas_identifier,
            calling_station,
            state: None,
            last_identifier: 0,
        }
    }

    /// The Access-Request carrying the client's EAP Response (State
    /// echoed, RFC 2865 §5.24; EAP split over EAP-Message attributes).
    /// `None` if the EAP packet is too large for RADIUS.
    pub fn request(&mut self, response: &EapPayload) -> Option<Packet> {
        let raw = eap::encode(response)?;
        if raw.len() > 4000 {
            return None;
        }
        self.last_identifier = response.identifier;
        let mut p = Packet::new(code::ACCESS_REQUEST, 0);
        p.add(attr::USER_NAME, self.identity.clone());
        client::nas_attributes(&mut p, &self.nas_identifier);
        if let Some(c) = &self.calling_station {
            p.add(attr::CALLING_STATION_ID, c.as_bytes().to_vec());
        }
        if let Some(s) = &self.state {
            p.add(attr::STATE, s.clone());
        }
        p.add_eap_message(&raw);
        Some(p)
    }

    /// Interprets the server's verified reply (`request_auth`: the
    /// Access-Request's authenticator; `secret`: the server's).
    pub fn reply(
        &mut self,
        reply: &Packet,
        request_auth: &[u8; 16],
        secret: &[u8],
    ) -> Result<RadiusStep, RadiusError> {
        let eap = match reply.eap_message() {
            Some(raw) => {
                Some(eap::decode(&raw).map_err(|_| RadiusError::Malformed("bad EAP-Message"))?)
            }
            None => None,
        };
        match reply.code {
            code::ACCESS_CHALLENGE => {
                self.state = reply.get(attr::STATE).map(<[u8]>::to_vec);
                match eap {
                    Some(e) if e.code == EapPayload::REQUEST => Ok(RadiusStep::Challenge(e)),
                    _ => Err(RadiusError::Malformed(
                        "Access-Challenge without an EAP Request",
                    )),
                }
            }
            code::ACCESS_ACCEPT => {
                if eap.as_ref().is_some_and(|e| e.code != EapPayload::SUCCESS) {
                    return Err(RadiusError::Malformed(
                        "Access-Accept with an EAP packet other than Success",
                    ));
                }
                let recv = reply
                    .vendor(ms::VENDOR, ms::MPPE_RECV_KEY)
                    .next()
                    .and_then(|v| decrypt_mppe_key(v, secret, request_auth));
                let send = reply
                    .vendor(ms::VENDOR, ms::MPPE_SEND_KEY)
                    .next()
                    .and_then(|v| decrypt_mppe_key(v, secret, request_auth));
                let msk = match (recv, send) {
                    (Some(r), Some(s)) => {
                        let mut k = Vec::with_capacity(r.len().saturating_add(s.len()));
                        k.extend_from_slice(&r);
                        k.extend_from_slice(&s);
                        Some(Msk::new(k))
                    }
                    _ => None,
                };
                let mut framed_ip = Vec::new();
                for v in reply.all(attr::FRAMED_IP_ADDRESS) {
                    if let Ok(b) = <[u8; 4]>::try_from(v) {
                        framed_ip.push(IpAddr::V4(Ipv4Addr::from(b)));
                    }
                }
                for v in reply.all(attr::FRAMED_IPV6_ADDRESS) {
                    if let Ok(b) = <[u8; 16]>::try_from(v) {
                        framed_ip.push(IpAddr::V6(Ipv6Addr::from(b)));
                    }
                }
                let info = AcceptInfo {
                    msk,
                    framed_ip,
                    framed_pool: reply
                        .get(attr::FRAMED_POOL)
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .map(str::to_string),
                    class: reply.all(attr::CLASS).map(<[u8]>::to_vec).collect(),
                    session_timeout: reply.get_u32(attr::SESSION_TIMEOUT),
                };
                Ok(RadiusStep::Accept {
                    eap: eap.unwrap_or(EapPayload {
                        code: EapPayload::SUCCESS,
                        identifier: self.last_identifier,
                        data: Vec::new(),
                    }),
                    info,
                })
            }
            code::ACCESS_REJECT => Ok(RadiusStep::Reject {
                eap: EapPayload {
                    code: EapPayload::FAILURE,
                    identifier: self.last_identifier,
                    data: Vec::new(),
                },
                message: reply
                    .get(attr::REPLY_MESSAGE)
                    .map(|m| String::from_utf8_lossy(m).into_owned()),
            }),
            _ => Err(RadiusError::Malformed("not an Access reply")),
        }
    }
}

/// Acct-Status-Type (RFC 2866 §5.1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AcctStatus {
    /// Start.
    Start = 1,
    /// Stop.
    Stop = 2,
    /// Interim-Update (RFC 2869 §2.1).
    Interim = 3,
}

/// Traffic of a session, from the gateway's view: `in` is what the client
/// sent (RFC 2866 §5.3: "received from the port").
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Counters {
    /// Octets from the client.
    pub bytes_in: u64,
    /// Octets to the client.
    pub bytes_out: u64,
    /// Packets from the client.
    pub packets_in: u64,
    /// Packets to the client.
    pub packets_out: u64,
}

/// A client's accounting session.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct AcctSession {
    /// Acct-Session-Id (unique per session).
    pub session_id: String,
    /// User-Name.
    pub user: Vec<u8>,
    /// Framed-IP-Address: its virtual IPs.
    pub framed_ip: Vec<IpAddr>,
    /// Class values from the Access-Accept (echoed, RFC 2865 §5.25).
    pub class: Vec<Vec<u8>>,
    /// Calling-Station-Id: its IKE address.
    pub calling_station: Option<String>,
}

/// An Accounting-Request (RFC 2866 §4.1): counts split into 32-bit
/// octets and Gigawords (RFC 2869 §5.1/§5.2); `session_time` and the
/// counts only for Interim and Stop; `terminate_cause` (RFC 2866 §5.10)
/// for Stop.
pub fn accounting_request(
    status: AcctStatus,
    s: &AcctSession,
    counters: Counters,
    session_time: u32,
    terminate_cause: Option<u32>,
    nas_identifier: &[u8],
) -> Packet {
    let mut p = Packet::new(code::ACCOUNTING_REQUEST, 0);
    p.add_u32(attr::ACCT_STATUS_TYPE, status as u32);
    p.add(attr::ACCT_SESSION_ID, s.session_id.as_bytes().to_vec());
    p.add(attr::USER_NAME, s.user.clone());
    client::nas_attributes(&mut p, nas_identifier);
    // Acct-Authentic RADIUS (1).
    p.add_u32(attr::ACCT_AUTHENTIC, 1);
    if let Some(c) = &s.calling_station {
        p.add(attr::CALLING_STATION_ID, c.as_bytes().to_vec());
    }
    for ip in &s.framed_ip {
        match ip {
            IpAddr::V4(v4) => p.add(attr::FRAMED_IP_ADDRESS, v4.octets().to_vec()),
            IpAddr::V6(v6) => p.add(attr::FRAMED_IPV6_ADDRESS, v6.octets().to_vec()),
        }
    }
    for c in &s.class {
        if c.len() <= packet::MAX_VALUE {
            p.add(attr::CLASS, c.clone());
        }
    }
    if status != AcctStatus::Start {
        let lo = |v: u64| (v & 0xffff_ffff) as u32;
        let hi = |v: u64| u32::try_from(v >> 32).unwrap_or(u32::MAX);
        p.add_u32(attr::ACCT_SESSION_TIME, session_time);
        p.add_u32(attr::ACCT_INPUT_OCTETS, lo(counters.bytes_in));
        p.add_u32(attr::ACCT_INPUT_GIGAWORDS, hi(counters.bytes_in));
        p.add_u32(attr::ACCT_OUTPUT_OCTETS, lo(counters.bytes_out));
        p.add_u32(attr::ACCT_OUTPUT_GIGAWORDS, hi(counters.bytes_out));
        p.add_u32(
            attr::ACCT_INPUT_PACKETS,
            u32::try_from(counters.packets_in).unwrap_or(u32::MAX),
        );
        p.add_u32(
            attr::ACCT_OUTPUT_PACKETS,
            u32::try_from(counters.packets_out).unwrap_or(u32::MAX),
        );
    }
    if let (AcctStatus::Stop, Some(c)) = (status, terminate_cause) {
        p.add_u32(attr::ACCT_TERMINATE_CAUSE, c);
    }
    p
}

/// Acct-Terminate-Cause values (RFC 2866 §5.10).
pub mod terminate_cause {
    /// User Request (the client deleted its IKE SA).
    pub const USER_REQUEST: u32 = 1;
    /// Lost Carrier (dead peer detection).
    pub const LOST_CARRIER: u32 = 2;
    /// Idle Timeout.
    pub const IDLE_TIMEOUT: u32 = 4;
    /// Session Timeout.
    pub const SESSION_TIMEOUT: u32 = 5;
    /// Admin Reset (a Disconnect-Request, the operator).
    pub const ADMIN_RESET: u32 = 6;
    /// NAS Request (shutdown).
    pub const NAS_REQUEST: u32 = 10;
}

/// A verified Disconnect-Request (RFC 5176 §3): which session to end.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Disconnect {
    /// Its Identifier.
    pub identifier: u8,
    /// Its authenticator (the reply's authenticator covers it).
    pub authenticator: [u8; 16],
    /// User-Name.
    pub user: Option<Vec<u8>>,
    /// Acct-Session-Id.
    pub session_id: Option<Vec<u8>>,
    /// Framed-IP-Address.
    pub framed_ip: Option<IpAddr>,
}

/// Error-Cause values (RFC 5176 §3.5).
pub mod error_cause {
    /// Missing Attribute.
    pub const MISSING_ATTRIBUTE: u32 = 402;
    /// Session Context Not Found.
    pub const SESSION_NOT_FOUND: u32 = 503;
}

impl Disconnect {
    /// Reads a Disconnect-Request from a dynamic authorization client
    /// with `secret`; errors for anything else, or one that names no
    /// session (RFC 5176 §3: at least one session identification
    /// attribute).
    pub fn parse(raw: &[u8], secret: &[u8]) -> Result<Disconnect, RadiusError> {
        let p = verify_request(raw, secret)?;
        if p.code != code::DISCONNECT_REQUEST {
            return Err(RadiusError::Malformed("not a Disconnect-Request"));
        }
        let framed_ip = p
            .get(attr::FRAMED_IP_ADDRESS)
            .and_then(|v| <[u8; 4]>::try_from(v).ok())
            .map(|b| IpAddr::V4(Ipv4Addr::from(b)))
            .or_else(|| {
                p.get(attr::FRAMED_IPV6_ADDRESS)
                    .and_then(|v| <[u8; 16]>::try_from(v).ok())
                    .map(|b| IpAddr::V6(Ipv6Addr::from(b)))
            });
        Ok(Disconnect {
            identifier: p.identifier,
            authenticator: p.authenticator,
            user: p.get(attr::USER_NAME).map(<[u8]>::to_vec),
            session_id: p.get(attr::ACCT_SESSION_ID).map(<[u8]>::to_vec),
            framed_ip,
        })
    }

    /// Whether it names a session at all.
    pub fn identifies_a_session(&self) -> bool {
        self.user.is_some() || self.session_id.is_some() || self.framed_ip.is_some()
    }

    /// The Disconnect-ACK (`Ok`) or Disconnect-NAK with an Error-Cause.
    pub fn reply(&self, result: Result<(), u32>, secret: &[u8]) -> Result<Vec<u8>, RadiusError> {
        let mut p = match result {
            Ok(()) => Packet::new(code::DISCONNECT_ACK, self.identifier),
            Err(cause) => {
                let mut p = Packet::new(code::DISCONNECT_NAK, self.identifier);
                p.add_u32(attr::ERROR_CAUSE, cause);
                p
            }
        };
        p.seal_response(&self.authenticator, secret, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounting_splits_gigawords() {
        let s = AcctSession {
            session_id: "s1".into(),
            user: b"alice".to_vec(),
            framed_ip: vec!["10.3.0.7".parse().unwrap()],
            class: vec![b"gold".to_vec()],
            calling_station: Some("192.0.2.9".into()),
        };
        let c = Counters {
            bytes_in: (5u64 << 32) + 7,
            bytes_out: 9,
            packets_in: 1,
            packets_out: 2,
        };
        let p = accounting_request(AcctStatus::Stop, &s, c, 61, Some(1), b"vtid");
        assert_eq!(p.get_u32(attr::ACCT_INPUT_OCTETS), Some(7));
        assert_eq!(p.get_u32(attr::ACCT_INPUT_GIGAWORDS), Some(5));
        assert_eq!(p.get_u32(attr::ACCT_OUTPUT_OCTETS), Some(9));
        assert_eq!(p.get_u32(attr::ACCT_SESSION_TIME), Some(61));
        assert_eq!(p.get_u32(attr::ACCT_TERMINATE_CAUSE), Some(1));
        assert_eq!(p.get(attr::CLASS), Some(&b"gold"[..]));
        let start = accounting_request(AcctStatus::Start, &s, c, 0, Some(1), b"vtid");
        assert_eq!(start.get(attr::ACCT_INPUT_OCTETS), None);
        assert_eq!(start.get(attr::ACCT_TERMINATE_CAUSE), None);
    }

    #[test]
    fn accept_gives_msk_address_and_pools() {
        let secret = b"s";
        let req_auth = [4u8; 16];
        let mut a = Packet::new(code::ACCESS_ACCEPT, 1);
        a.add_eap_message(&[3, 5, 0, 4]);
        let vsa = |t: u8, key: &[u8]| {
            let enc = packet::encrypt_mppe_key(key, secret, &req_auth, [1, 2]).unwrap();
            let mut v = ms::VENDOR.to_be_bytes().to_vec();
            v.push(t);
            v.push(u8::try_from(enc.len() + 2).unwrap());
            v.extend(enc);
            v
        };
        a.add(attr::VENDOR_SPECIFIC, vsa(ms::MPPE_RECV_KEY, &[1; 32]));
        a.add(attr::VENDOR_SPECIFIC, vsa(ms::MPPE_SEND_KEY, &[2; 32]));
        a.add(attr::FRAMED_IP_ADDRESS, vec![10, 3, 0, 7]);
        a.add(attr::FRAMED_POOL, b"rw".to_vec());
        a.add(attr::CLASS, b"staff".to_vec());
        let mut r = EapRadius::new(b"alice".to_vec(), b"vtid".to_vec(), None);
        let RadiusStep::Accept { eap, info } = r.reply(&a, &req_auth, secret).unwrap() else {
            panic!()
        };
        assert_eq!(eap.code, EapPayload::SUCCESS);
        let msk = info.msk.as_ref().unwrap().expose().to_vec();
        assert_eq!(msk, [[1u8; 32], [2u8; 32]].concat());
        assert_eq!(info.framed_ip, vec!["10.3.0.7".parse::<IpAddr>().unwrap()]);
        assert_eq!(info.pools(false), vec!["rw".to_string()]);
        assert_eq!(
            info.pools(true),
            vec!["rw".to_string(), "staff".to_string()]
        );
    }
}
