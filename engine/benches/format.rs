//! Record framing of a full 1 MiB chunk record (1 MiB minus the 64-byte
//! header of payload): `engine::format::seal_chunk` on the PUT path (zero the
//! padding, CRC32C the payload, encode the header) and `verify_chunk` on the
//! GET path (decode and check the header, CRC32C the payload). Both are one
//! CRC32C pass over the payload plus a constant, so the result should sit
//! close to the machine's single-core CRC32C rate; a gap would be overhead.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine::format::{record_len_bytes, seal_chunk, verify_chunk, RECORD_HEADER_BYTES};
use engine::io::AlignedBuf;
use engine::limits::CHUNK_PAYLOAD_BYTES_MAX;

const OBJECT_ID: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
const CHUNK_INDEX: u32 = 3;

/// A record buffer with pseudo-random payload bytes in place, not yet sealed.
fn chunk_buf() -> AlignedBuf {
    let mut buf = AlignedBuf::new(record_len_bytes(CHUNK_PAYLOAD_BYTES_MAX));
    let payload = &mut buf.as_full_mut()[RECORD_HEADER_BYTES..][..CHUNK_PAYLOAD_BYTES_MAX];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for byte in payload {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    buf
}

fn bench_format(c: &mut Criterion) {
    let payload_len = CHUNK_PAYLOAD_BYTES_MAX;
    let mut buf = chunk_buf();
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Bytes(payload_len as u64));
    group.bench_function("seal_chunk/1MiB", |b| {
        b.iter(|| seal_chunk(black_box(&mut buf), OBJECT_ID, CHUNK_INDEX, payload_len));
    });
    seal_chunk(&mut buf, OBJECT_ID, CHUNK_INDEX, payload_len);
    let record = buf.as_slice();
    verify_chunk(record, OBJECT_ID, CHUNK_INDEX, payload_len as u32).expect("sealed record");
    group.bench_function("verify_chunk/1MiB", |b| {
        b.iter(|| {
            verify_chunk(
                black_box(record),
                OBJECT_ID,
                CHUNK_INDEX,
                payload_len as u32,
            )
        });
    });
    group.finish();
}

criterion_group!(benches, bench_format);
criterion_main!(benches);
