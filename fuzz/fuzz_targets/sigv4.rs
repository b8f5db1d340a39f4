//! Fuzz target `sigv4`: see `maxiofs_fuzz::harness_s3::fuzz_sigv4`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    maxiofs_fuzz::harness_s3::fuzz_sigv4(data);
});
