//! placeholder: written by the auth helper
