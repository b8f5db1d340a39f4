//! The fuzz corpora on stable, deterministically: every file of `fuzz/corpus/<target>/`
//! and a few thousand seeded mutants of them go through the same entry functions the
//! cargo-fuzz targets call (`fuzz/src/harness_s3.rs`, included below), which must not
//! panic and check their invariants. An input the fuzzer finds crashing goes into the
//! corpus and becomes a named case at the end of this file (none so far). How to fuzz
//! for real: `fuzz/README.md`.

#[path = "../../fuzz/src/harness_s3.rs"]
mod harness_s3;
#[path = "../../fuzz/src/replay.rs"]
mod replay;

use harness_s3::{
    fuzz_aws_chunked, fuzz_policy, fuzz_range_conditions, fuzz_sigv2, fuzz_sigv4, fuzz_xml,
};

/// Mutants per target: enough to leave the seeds' paths, and quick in a debug build.
const MUTANTS: usize = 3000;
/// Longest mutant, in bytes; the seeds are far shorter.
const MUTANT_BYTES_MAX: usize = 8 * 1024;

#[test]
fn sigv4_corpus_and_mutants() {
    replay::replay("sigv4", 0x5167_0004, MUTANTS, MUTANT_BYTES_MAX, fuzz_sigv4);
}

#[test]
fn sigv2_corpus_and_mutants() {
    replay::replay("sigv2", 0x5167_0002, MUTANTS, MUTANT_BYTES_MAX, fuzz_sigv2);
}

#[test]
fn aws_chunked_corpus_and_mutants() {
    replay::replay(
        "aws_chunked",
        0xC4A0_0001,
        MUTANTS,
        MUTANT_BYTES_MAX,
        fuzz_aws_chunked,
    );
}

#[test]
fn range_conditions_corpus_and_mutants() {
    let entry = fuzz_range_conditions;
    replay::replay(
        "range_conditions",
        0x4A46_0001,
        MUTANTS,
        MUTANT_BYTES_MAX,
        entry,
    );
}

#[test]
fn policy_corpus_and_mutants() {
    replay::replay(
        "policy",
        0x9011_C700,
        MUTANTS,
        MUTANT_BYTES_MAX,
        fuzz_policy,
    );
}

#[test]
fn xml_corpus_and_mutants() {
    replay::replay("xml", 0x0C3D_0001, MUTANTS, MUTANT_BYTES_MAX, fuzz_xml);
}
