//! Kernel SA installation: PF_KEY v2 (RFC 2367, with FreeBSD's `if_ipsec(4)`
//! reqids) and Linux XFRM netlink.
//!
//! * [`pfkey`] — the PF_KEY v2 message codec (both the FreeBSD and the Linux
//!   flavour, chosen with [`pfkey::Flavor`]) and the `PF_KEY` socket.
//! * [`xfrm`] — the Linux XFRM netlink codec and socket, with the probes the
//!   daemon calls at start-up ([`xfrm::xfrm_esp_available`]).
//! * [`link`] — rtnetlink creation of Linux xfrm interfaces.
//! * [`backend`] — the kernel data-plane backends built on those codecs:
//!   XFRM (states, `if_id`/selector policies, socket bypass) and PF_KEY for
//!   FreeBSD `if_ipsec(4)`.
//! * [`netlink`] — the small netlink transport the two Linux modules share.
//! * [`freebsd_abi`] — FreeBSD's structures, ioctl request codes and
//!   socket options as plain data (compiled and checked on Linux against
//!   values from FreeBSD's headers).
//! * `freebsd` (FreeBSD only) — `if_ipsec(4)` interfaces, their addresses,
//!   and the IKE sockets' `UDP_ENCAP` and IPsec bypass.
//!
//! The only `unsafe` code lives in the private `sys` module (raw socket
//! creation and, on FreeBSD, interface ioctls), because `nix` cannot open a
//! `NETLINK_XFRM` or `PF_KEY_V2` socket.
//!
//! # Platform boundary
//!
//! The PF_KEY codec and socket, the backend-neutral [`backend::ChildSpec`]
//! and the PF_KEY backend's message building compile everywhere (the
//! PF_KEY byte-for-byte tests run on Linux). What only Linux has (netlink,
//! XFRM, rtnetlink links and the XFRM backend) and what only FreeBSD has
//! (the ioctl and socket-option calls) is chosen here and in
//! `backend/mod.rs`'s module list;
//! no other file has a `cfg(target_os)`, except the private `sys` module
//! that holds the system calls.

pub mod backend;
pub mod error;
pub mod freebsd_abi;
pub mod freebsd_route;
pub mod pfkey;
mod sys;
pub(crate) mod wire;

#[cfg(target_os = "linux")]
pub mod link;
#[cfg(target_os = "linux")]
pub mod netlink;
#[cfg(target_os = "linux")]
pub mod xfrm;

#[cfg(target_os = "freebsd")]
pub mod freebsd;

pub use error::ParseError;
