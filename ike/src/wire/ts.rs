//! Traffic Selector payloads TSi and TSr (RFC 7296 §3.13).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::error::{fits16, fits8, Part, WireError};
use super::reader::{len16, len8, Reader};
use super::registry::{PayloadType, TsType};

/// One traffic selector (RFC 7296 §3.13.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TrafficSelector {
    /// TS_IPV4_ADDR_RANGE (selector length 16).
    Ipv4 {
        /// IP Protocol ID; 0 means any.
        ip_proto: u8,
        /// Start Port (0 for any, or for ICMP the type/code, §3.13.1).
        start_port: u16,
        /// End Port (65535 for any).
        end_port: u16,
        /// Starting Address.
        start: Ipv4Addr,
        /// Ending Address.
        end: Ipv4Addr,
    },
    /// TS_IPV6_ADDR_RANGE (selector length 40).
    Ipv6 {
        /// IP Protocol ID; 0 means any.
        ip_proto: u8,
        /// Start Port.
        start_port: u16,
        /// End Port.
        end_port: u16,
        /// Starting Address.
        start: Ipv6Addr,
        /// Ending Address.
        end: Ipv6Addr,
    },
    /// Any other TS Type (e.g. TS_SECLABEL, RFC 9478), kept raw.
    Other {
        /// The TS Type.
        ty: TsType,
        /// The second octet: IP Protocol ID for the address-range types,
        /// RESERVED for TS_SECLABEL.
        ip_proto: u8,
        /// Everything after the Selector Length field.
        data: Vec<u8>,
    },
}

impl TrafficSelector {
    /// An IPv4 selector covering every protocol and port in `start..=end`.
    pub fn ipv4_any(start: Ipv4Addr, end: Ipv4Addr) -> Self {
        TrafficSelector::Ipv4 {
            ip_proto: 0,
            start_port: 0,
            end_port: 0xffff,
            start,
            end,
        }
    }

    /// The TS Type.
    pub fn ty(&self) -> TsType {
        match self {
            TrafficSelector::Ipv4 { .. } => TsType::IPV4_ADDR_RANGE,
            TrafficSelector::Ipv6 { .. } => TsType::IPV6_ADDR_RANGE,
            TrafficSelector::Other { ty, .. } => *ty,
        }
    }

    fn buffer_len(&self) -> usize {
        match self {
            TrafficSelector::Ipv4 { .. } => 16,
            TrafficSelector::Ipv6 { .. } => 40,
            TrafficSelector::Other { data, .. } => 4 + data.len(),
        }
    }

    fn parse(bytes: &[u8]) -> Result<TrafficSelector, WireError> {
        let part = Part::TrafficSelector;
        let mut r = Reader::new(bytes, part);
        let ty = TsType(r.u8()?);
        let ip_proto = r.u8()?;
        let _len = r.u16()?; // checked by the caller
        let wrong = WireError::BadLength {
            part,
            detail: "selector length wrong for its type",
        };
        match ty {
            TsType::IPV4_ADDR_RANGE => {
                if bytes.len() != 16 {
                    return Err(wrong);
                }
                Ok(TrafficSelector::Ipv4 {
                    ip_proto,
                    start_port: r.u16()?,
                    end_port: r.u16()?,
                    start: r.array::<4>()?.into(),
                    end: r.array::<4>()?.into(),
                })
            }
            TsType::IPV6_ADDR_RANGE => {
                if bytes.len() != 40 {
                    return Err(wrong);
                }
                Ok(TrafficSelector::Ipv6 {
                    ip_proto,
                    start_port: r.u16()?,
                    end_port: r.u16()?,
                    start: r.array::<16>()?.into(),
                    end: r.array::<16>()?.into(),
                })
            }
            ty => Ok(TrafficSelector::Other {
                ty,
                ip_proto,
                data: r.rest().to_vec(),
            }),
        }
    }

    fn emit_into(&self, out: &mut Vec<u8>) {
        out.push(self.ty().0);
        match self {
            TrafficSelector::Ipv4 {
                ip_proto,
                start_port,
                end_port,
                start,
                end,
            } => {
                out.push(*ip_proto);
                out.extend_from_slice(&16u16.to_be_bytes());
                out.extend_from_slice(&start_port.to_be_bytes());
                out.extend_from_slice(&end_port.to_be_bytes());
                out.extend_from_slice(&start.octets());
                out.extend_from_slice(&end.octets());
            }
            TrafficSelector::Ipv6 {
                ip_proto,
                start_port,
                end_port,
                start,
                end,
            } => {
                out.push(*ip_proto);
                out.extend_from_slice(&40u16.to_be_bytes());
                out.extend_from_slice(&start_port.to_be_bytes());
                out.extend_from_slice(&end_port.to_be_bytes());
                out.extend_from_slice(&start.octets());
                out.extend_from_slice(&end.octets());
            }
            TrafficSelector::Other { ip_proto, data, .. } => {
                out.push(*ip_proto);
                out.extend_from_slice(&len16(4 + data.len(), "traffic selector").to_be_bytes());
                out.extend_from_slice(data);
            }
        }
    }
}

/// The body of a TSi or TSr payload (RFC 7296 §3.13).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct TsPayload {
    /// The selectors; at most 255 (the Number of TSs is one octet).
    pub selectors: Vec<TrafficSelector>,
}

impl TsPayload {
    /// Parses a body (Number of TSs, RESERVED, selectors). The count must
    /// match, and the selectors must fill the body exactly (§3.13).
    pub fn parse(body: &[u8], payload: PayloadType) -> Result<TsPayload, WireError> {
        let part = Part::Payload(payload);
        let mut r = Reader::new(body, part);
        let count = r.u8()?;
        let _reserved = r.take(3)?;
        let mut selectors = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let mut peek = Reader::new(r.peek(), Part::TrafficSelector);
            peek.take(2)?;
            let len = usize::from(peek.u16()?);
            if len < 4 {
                return Err(WireError::BadLength {
                    part: Part::TrafficSelector,
                    detail: "selector length below 4",
                });
            }
            if len > r.remaining() {
                return Err(WireError::BadLength {
                    part: Part::TrafficSelector,
                    detail: "selector length overruns the payload",
                });
            }
            selectors.push(TrafficSelector::parse(r.take(len)?)?);
        }
        if !r.is_empty() {
            return Err(WireError::BadLength {
                part,
                detail: "bytes after the last traffic selector",
            });
        }
        Ok(TsPayload { selectors })
    }

    /// Encoded size of the body.
    pub fn buffer_len(&self) -> usize {
        4 + self
            .selectors
            .iter()
            .map(TrafficSelector::buffer_len)
            .sum::<usize>()
    }

    /// Whether [`TsPayload::emit_into`] can encode it: at most 255
    /// selectors (the Number of TSs is one octet, RFC 7296 §3.13), each
    /// `Other` selector within its 16-bit length.
    pub fn check(&self, payload: PayloadType) -> Result<(), WireError> {
        fits8(
            self.selectors.len(),
            Part::Payload(payload),
            "more than 255 traffic selectors",
        )?;
        for s in &self.selectors {
            fits16(
                s.buffer_len(),
                Part::TrafficSelector,
                "selector longer than 65535 octets",
            )?;
        }
        Ok(())
    }

    /// Appends the body.
    ///
    /// # Panics
    /// With more than 255 selectors, or an `Other` longer than 65535 (what
    /// [`TsPayload::check`] refuses).
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.push(len8(self.selectors.len(), "number of traffic selectors"));
        out.extend_from_slice(&[0; 3]);
        for s in &self.selectors {
            s.emit_into(out);
        }
    }
}
