//! Kernel SA installation: PF_KEY v2 (RFC 2367, with FreeBSD's if_ipsec
//! reqids) and Linux XFRM netlink.
//!
//! The backends arrive with the kernel-backend issue; this crate is the place
//! they live.
