//! The stable, deterministic replay of the fuzz corpora, shared by the workspace tests
//! `s3/tests/fuzz_replay.rs` and `http/tests/fuzz_replay.rs` (included with `#[path]`).
//!
//! Owns: reading `fuzz/corpus/<target>/`, a seeded PRNG (SplitMix64) and a small
//! mutator in the spirit of libFuzzer's (bit flips, interesting bytes, deletions,
//! insertions, duplications, splices, truncations). Every run feeds the same inputs in
//! the same order, so a failure reproduces with `cargo test`; the failing input is
//! printed escaped, ready to become a named regression case.
//!
//! Must not touch: the parsers themselves. The entry functions live in
//! `fuzz/src/harness_*.rs`, shared with the cargo-fuzz targets.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// SplitMix64: tiny, fast and fully determined by its seed, which is all a replay needs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` must not be zero.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Bytes that decide things in the formats under test: line ends, separators, hex and
/// decimal digits, XML metacharacters, and the bytes that flip UTF-8 validity.
const INTERESTING_BYTES: &[u8] = b"\0\t\r\n ,-./0159:;=?&%+AFafz<>\"'\x7f\x80\xc3\xef\xff";

/// The corpus files of one target, sorted by name so every run sees them in one order.
pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "fuzz", "corpus", target]
        .iter()
        .collect();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.expect("dir entry").path())
        .collect();
    paths.sort();
    let files: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    assert!(!files.is_empty(), "{} holds no seed", dir.display());
    files
}

/// One mutant of a corpus entry: one to four edits, capped at `len_max` bytes.
pub fn mutant(rng: &mut Rng, corpus: &[Vec<u8>], len_max: usize) -> Vec<u8> {
    let mut data = corpus[rng.below(corpus.len())].clone();
    for _ in 0..1 + rng.below(4) {
        mutate_once(rng, corpus, &mut data);
    }
    data.truncate(len_max);
    data
}

fn mutate_once(rng: &mut Rng, corpus: &[Vec<u8>], data: &mut Vec<u8>) {
    let len = data.len();
    let at = rng.below(len + 1);
    match rng.below(7) {
        0 if len > 0 => data[at.min(len - 1)] ^= 1 << rng.below(8),
        1 if len > 0 => {
            data[at.min(len - 1)] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())]
        }
        2 => {
            let end = (at + 1 + rng.below(16)).min(len);
            data.drain(at..end);
        }
        3 => {
            let count = 1 + rng.below(8);
            let bytes = (0..count).map(|_| match rng.below(2) {
                0 => INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())],
                _ => rng.next_u64() as u8,
            });
            let bytes: Vec<u8> = bytes.collect();
            data.splice(at..at, bytes);
        }
        4 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(64)).min(len);
            let copy = data[start..end].to_vec();
            data.splice(at..at, copy);
        }
        5 => {
            let other = &corpus[rng.below(corpus.len())];
            let from = rng.below(other.len() + 1);
            data.truncate(at);
            data.extend_from_slice(&other[from..]);
        }
        _ => data.truncate(at),
    }
}

/// Feeds `target`'s corpus, then `mutants` inputs generated from `seed`, to `entry`.
/// A panic is reported with the input that caused it.
pub fn replay(target: &str, seed: u64, mutants: usize, len_max: usize, entry: fn(&[u8])) {
    let corpus = corpus(target);
    for (i, input) in corpus.iter().enumerate() {
        run_one(target, &format!("corpus entry {i}"), input, entry);
    }
    let mut rng = Rng::new(seed);
    for i in 0..mutants {
        let input = mutant(&mut rng, &corpus, len_max);
        run_one(
            target,
            &format!("mutant {i} of seed {seed:#x}"),
            &input,
            entry,
        );
    }
}

fn run_one(target: &str, which: &str, input: &[u8], entry: fn(&[u8])) {
    if catch_unwind(AssertUnwindSafe(|| entry(input))).is_err() {
        panic!(
            "{target}: {which} panicked; input (escaped): b\"{}\"",
            input.escape_ascii()
        );
    }
}
