//! Fuzz target `http_chunked`: see `maxiofs_fuzz::harness_http::fuzz_http_chunked`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: maxiofs_fuzz::ignore_sigpipe(), |data: &[u8]| {
    maxiofs_fuzz::harness_http::fuzz_http_chunked(data);
});
