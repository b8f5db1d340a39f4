//! Identities and authorisation as pure data and functions, no I/O.
#![forbid(unsafe_code)]
