//! Fuzz target `policy`: see `maxiofs_fuzz::harness_s3::fuzz_policy`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    maxiofs_fuzz::harness_s3::fuzz_policy(data);
});
