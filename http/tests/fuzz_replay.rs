//! The HTTP fuzz corpora on stable, deterministically: every file of
//! `fuzz/corpus/http_head/` and `fuzz/corpus/http_chunked/` and a few thousand seeded
//! mutants of them are sent to a live server through the same entry functions the
//! cargo-fuzz targets call (`fuzz/src/harness_http.rs`, included below): no panic, no
//! hang, every answer an HTTP/1.1 status line. An input the fuzzer finds crashing goes
//! into the corpus and becomes a named case at the end of this file (none so far). How
//! to fuzz for real: `fuzz/README.md`.

#[path = "../../fuzz/src/harness_http.rs"]
mod harness_http;
#[path = "../../fuzz/src/replay.rs"]
mod replay;

use harness_http::{fuzz_http_chunked, fuzz_http_head};

/// Mutants per target: each is one loopback connection, so fewer than for the pure
/// parsers, still enough to leave the seeds' paths.
const MUTANTS: usize = 2000;
/// Longest mutant, in bytes; the seeds are far shorter.
const MUTANT_BYTES_MAX: usize = 16 * 1024;

#[test]
fn http_head_corpus_and_mutants() {
    replay::replay(
        "http_head",
        0x4EAD_0001,
        MUTANTS,
        MUTANT_BYTES_MAX,
        fuzz_http_head,
    );
}

#[test]
fn http_chunked_corpus_and_mutants() {
    let entry = fuzz_http_chunked;
    replay::replay(
        "http_chunked",
        0xC4C4_0001,
        MUTANTS,
        MUTANT_BYTES_MAX,
        entry,
    );
}
