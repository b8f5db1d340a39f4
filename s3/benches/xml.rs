//! Rendering one full ListObjectsV2 page (1000 keys) with
//! `s3::xml::list_objects`, plain and with `encoding-type=url` (which every
//! SDK sends). A LIST of a large bucket is a sequence of such pages, so this
//! bounds the pages per second the S3 layer can produce on one core before
//! any index or network cost.
//!
//! The output buffer is reused across iterations, as a shard would reuse it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use s3::xml::{list_objects, ListEntry, ListObjects, ListVersion};

const KEYS_COUNT: usize = 1000;

/// Keys shaped like a photo library: a few levels, a space in some names
/// (escaped under `encoding-type=url`), ~40 bytes each.
fn keys() -> Vec<String> {
    (0..KEYS_COUNT)
        .map(|i| {
            let month = i % 12 + 1;
            let sep = if i % 10 == 0 { " " } else { "_" };
            format!("photos/2025/{month:02}/holiday{sep}img_{i:06}.jpg")
        })
        .collect()
}

fn etags() -> Vec<String> {
    (0..KEYS_COUNT)
        .map(|i| {
            format!(
                "\"{:032x}\"",
                (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            )
        })
        .collect()
}

fn bench_list_objects(c: &mut Criterion) {
    let keys = keys();
    let etags = etags();
    let entries: Vec<ListEntry<'_>> = keys
        .iter()
        .zip(&etags)
        .enumerate()
        .map(|(i, (key, etag))| ListEntry {
            key,
            last_modified_ms: 1_736_935_800_000 + i as u64 * 1_000,
            etag,
            size_bytes: 1_048_576 + i as u64,
            checksum_algorithm: (i % 2 == 0).then_some("CRC32"),
        })
        .collect();
    let next_token = keys.last().expect("keys");
    let mut out = Vec::new();
    let mut group = c.benchmark_group("xml_list_objects_v2");
    group.throughput(Throughput::Elements(KEYS_COUNT as u64));
    for url_encode in [false, true] {
        let list = ListObjects {
            bucket: "bench-bucket",
            prefix: "photos/",
            delimiter: None,
            max_keys: KEYS_COUNT as u32,
            is_truncated: true,
            url_encode,
            owner: None,
            contents: &entries,
            common_prefixes: &[],
            version: ListVersion::V2 {
                continuation_token: None,
                next_continuation_token: Some(next_token),
                start_after: None,
            },
        };
        let name = if url_encode {
            "1000_keys/url_encoded"
        } else {
            "1000_keys"
        };
        out.clear();
        list_objects(&mut out, &list);
        println!("{name}: {} bytes of XML per page", out.len());
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                list_objects(&mut out, black_box(&list));
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_list_objects);
criterion_main!(benches);
