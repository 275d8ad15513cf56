//! vtid's configuration: strongSwan's swanctl.conf syntax and the typed model
//! it yields.
#![forbid(unsafe_code)]
