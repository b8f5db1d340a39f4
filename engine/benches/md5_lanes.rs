//! The ETag's MD5 (issue 22): one stream through the `md-5` crate, against
//! 16 streams of 1 MiB hashed together in SIMD lanes (`engine::md5_lanes`)
//! and one at a time through the same module's scalar code. Throughput is of
//! all streams' bytes.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::md5_lanes::{update_many, Md5Stream};
use md5::{Digest, Md5};

const STREAM_BYTES: usize = 1 << 20;

fn streams(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|s| (0..STREAM_BYTES).map(|i| (i * 31 + s * 7) as u8).collect())
        .collect()
}

fn md5_hashing(c: &mut Criterion) {
    let mut group = c.benchmark_group("md5");
    for count in [1usize, 4, 8, 16] {
        let datas = streams(count);
        group.throughput(Throughput::Bytes((count * STREAM_BYTES) as u64));
        group.bench_with_input(BenchmarkId::new("md-5 crate", count), &datas, |b, datas| {
            b.iter(|| {
                datas
                    .iter()
                    .map(|d| Md5::digest(d)[0])
                    .fold(0u8, |a, x| a ^ x)
            })
        });
        group.bench_with_input(BenchmarkId::new("lanes", count), &datas, |b, datas| {
            b.iter(|| {
                let mut hashers: Vec<Md5Stream> =
                    (0..datas.len()).map(|_| Md5Stream::new()).collect();
                let mut jobs: Vec<(&mut Md5Stream, &[u8])> = hashers
                    .iter_mut()
                    .zip(datas.iter().map(Vec::as_slice))
                    .collect();
                update_many(&mut jobs);
                hashers
                    .into_iter()
                    .map(|h| h.finalize()[0])
                    .fold(0u8, |a, x| a ^ x)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, md5_hashing);
criterion_main!(benches);
