//! Fuzz target `range_conditions`: see `maxiofs_fuzz::harness_s3::fuzz_range_conditions`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    maxiofs_fuzz::harness_s3::fuzz_range_conditions(data);
});
