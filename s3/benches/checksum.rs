//! Checksum throughput on one core over a 1 MiB body, fed in the 64 KiB
//! pieces a PUT body arrives in.
//!
//! - `checksum/<algorithm>`: each `s3::checksum::ChecksumHasher` algorithm a
//!   client may ask for (CRC32, CRC32C, CRC64NVME, SHA1, SHA256), and MD5
//!   (md-5), which every PUT pays for its ETag.
//! - `checksum/combo/*`: what a PUT actually hashes, every hasher updated
//!   piece by piece so the piece stays in cache: the ETag MD5 plus the CRC32C
//!   of the engine's record framing, alone (unsigned payload, no client
//!   checksum), with the SDK-default CRC32, and with a signed payload's
//!   SHA-256. Issue 3's PUT CPU target is stated against `md5+crc32c`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use md5::{Digest, Md5};
use s3::checksum::{ChecksumAlgorithm, ChecksumHasher};

const BODY_BYTES: usize = 1 << 20;
const PIECE_BYTES: usize = 64 * 1024;

/// One hash a PUT may compute.
#[derive(Clone, Copy)]
enum Hash {
    Md5,
    Client(ChecksumAlgorithm),
}

/// A running hash of either kind.
enum Running {
    Md5(Md5),
    Client(ChecksumHasher),
}

impl Running {
    fn new(hash: Hash) -> Self {
        match hash {
            Hash::Md5 => Running::Md5(Md5::new()),
            Hash::Client(algorithm) => Running::Client(ChecksumHasher::new(algorithm)),
        }
    }

    fn update(&mut self, piece: &[u8]) {
        match self {
            Running::Md5(md5) => md5.update(piece),
            Running::Client(hasher) => hasher.update(piece),
        }
    }

    fn finish(self) {
        match self {
            Running::Md5(md5) => {
                black_box(md5.finalize());
            }
            Running::Client(hasher) => {
                black_box(hasher.finalize());
            }
        }
    }
}

/// Hashes `body` with every hash in `hashes`, piece by piece.
fn hash_body(body: &[u8], hashes: &[Hash]) {
    let mut running: Vec<Running> = hashes.iter().map(|h| Running::new(*h)).collect();
    for piece in body.chunks(PIECE_BYTES) {
        for hash in &mut running {
            hash.update(piece);
        }
    }
    running.into_iter().for_each(Running::finish);
}

fn body() -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..BODY_BYTES)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn bench_checksums(c: &mut Criterion) {
    use ChecksumAlgorithm as A;
    let body = body();
    let singles = ChecksumAlgorithm::ALL
        .into_iter()
        .map(|a| (a.sdk_name().to_ascii_lowercase(), vec![Hash::Client(a)]))
        .chain([("md5".to_owned(), vec![Hash::Md5])]);
    let combos = [
        ("combo/md5+crc32c", vec![Hash::Md5, Hash::Client(A::Crc32c)]),
        (
            "combo/md5+crc32+crc32c",
            vec![Hash::Md5, Hash::Client(A::Crc32), Hash::Client(A::Crc32c)],
        ),
        (
            "combo/md5+sha256+crc32c",
            vec![Hash::Md5, Hash::Client(A::Sha256), Hash::Client(A::Crc32c)],
        ),
    ]
    .map(|(name, hashes)| (name.to_owned(), hashes));
    let mut group = c.benchmark_group("checksum");
    group.throughput(Throughput::Bytes(BODY_BYTES as u64));
    for (name, hashes) in singles.chain(combos) {
        group.bench_function(format!("{name}/1MiB"), |b| {
            b.iter(|| hash_body(black_box(&body), &hashes));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_checksums);
criterion_main!(benches);
