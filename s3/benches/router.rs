//! Routing cost per request: `s3::router::route` on a handful of request
//! lines that dominate real traffic (object GET/PUT, multipart part upload,
//! a V2 listing with prefix and delimiter, batch delete, a copy, and a
//! virtual-host style GET). Every request pays this once, before auth.
//!
//! Routing percent-decodes the path and query and validates the names into
//! their newtypes, so it allocates; these numbers show what that costs.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use s3::router::{route, RouteInput};

/// One request line with the headers the router looks at. `name` is the
/// AWS operation it must route to, optionally with a `/variant` suffix.
struct Case {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    query: &'static str,
    host: &'static str,
    headers: Vec<(String, String)>,
}

fn case(name: &'static str, method: &'static str, target: &'static str) -> Case {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Case {
        name,
        method,
        path,
        query,
        host: "127.0.0.1:9000",
        headers: Vec::new(),
    }
}

fn cases() -> Vec<Case> {
    let upload_part_target = "/bench-bucket/backups/2025-01-15/vm-042.vbk\
        ?partNumber=17&uploadId=VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA";
    let mut copy = case("CopyObject", "PUT", "/bench-bucket/photos/copy-of-img.jpg");
    copy.headers.push((
        "x-amz-copy-source".to_owned(),
        "/bench-bucket/photos/2025/01/img_000123.jpg".to_owned(),
    ));
    let mut virtual_host = case("GetObject/virtual_host", "GET", "/photos/2025/01/img.jpg");
    virtual_host.host = "bench-bucket.s3.localhost:9000";
    vec![
        case(
            "GetObject",
            "GET",
            "/bench-bucket/photos/2025/01/img_000123.jpg",
        ),
        case(
            "PutObject",
            "PUT",
            "/bench-bucket/photos/2025/01/img_000124.jpg",
        ),
        case("UploadPart", "PUT", upload_part_target),
        case(
            "ListObjectsV2",
            "GET",
            "/bench-bucket?list-type=2&prefix=photos%2F2025%2F&delimiter=%2F\
             &max-keys=1000&encoding-type=url",
        ),
        case("DeleteObjects", "POST", "/bench-bucket?delete"),
        copy,
        virtual_host,
    ]
}

fn bench_route(c: &mut Criterion) {
    let base_domains = vec!["s3.localhost".to_owned()];
    let mut group = c.benchmark_group("route");
    group.throughput(Throughput::Elements(1));
    for case in cases() {
        let input = RouteInput {
            method: case.method,
            path: case.path,
            query: case.query,
            host: Some(case.host),
            headers: &case.headers,
            base_domains: &base_domains,
        };
        let routed = route(&input).expect("routes");
        let operation = case.name.split('/').next().expect("non-empty name");
        assert_eq!(routed.endpoint.name(), operation, "{}", case.name);
        group.bench_function(case.name, |b| b.iter(|| route(black_box(&input))));
    }
    group.finish();
}

criterion_group!(benches, bench_route);
criterion_main!(benches);
