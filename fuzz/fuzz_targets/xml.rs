//! Fuzz target `xml`: see `maxiofs_fuzz::harness_s3::fuzz_xml`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    maxiofs_fuzz::harness_s3::fuzz_xml(data);
});
