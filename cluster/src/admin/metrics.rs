//! `GET /metrics` on the console port: the Prometheus text exposition
//! format (version 0.0.4), built when scraped from every shard's snapshot
//! (`ShardRequest::Metrics`), the control plane's own counters, the data
//! disk and the process. Every series is listed in docs/metrics.md.
//!
//! Per-bucket series (usage by bucket) appear only with
//! `--metrics-per-bucket`: their number grows with the buckets.

use std::fmt::Write as _;
use std::path::Path;

use s3::metrics::{ShardMetrics, LATENCY_BOUNDS_US, STATUS_CLASSES};
use s3::shard::ShardRequest;

use crate::control::ControlPlane;

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Writes one metric family's header.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value, escaped as the format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn seconds(us: u64) -> String {
    format!("{}", us as f64 / 1e6)
}

/// A histogram family from cumulative buckets (`bounds` in microseconds
/// when `as_seconds`, else plain units).
struct HistogramLines<'a> {
    name: &'a str,
    labels: String,
    bounds: &'a [u64],
    cumulative: &'a [u64],
    count: u64,
    sum: u64,
    as_seconds: bool,
}

impl HistogramLines<'_> {
    fn write(&self, out: &mut String) {
        let sep = if self.labels.is_empty() { "" } else { "," };
        for (bound, cumulative) in self.bounds.iter().zip(self.cumulative) {
            let le = if self.as_seconds {
                seconds(*bound)
            } else {
                bound.to_string()
            };
            let _ = writeln!(
                out,
                "{}_bucket{{{}{sep}le=\"{le}\"}} {cumulative}",
                self.name, self.labels
            );
        }
        let _ = writeln!(
            out,
            "{}_bucket{{{}{sep}le=\"+Inf\"}} {}",
            self.name, self.labels, self.count
        );
        let sum = if self.as_seconds {
            seconds(self.sum)
        } else {
            self.sum.to_string()
        };
        let braces = |labels: &str| match labels.is_empty() {
            true => String::new(),
            false => format!("{{{labels}}}"),
        };
        let _ = writeln!(out, "{}_sum{} {sum}", self.name, braces(&self.labels));
        let _ = writeln!(
            out,
            "{}_count{} {}",
            self.name,
            braces(&self.labels),
            self.count
        );
    }
}

/// The unit of /proc's CPU times: the kernel reports them in USER_HZ,
/// which is 100 on every architecture Linux ships (a fixed ABI value).
const USER_HZ: f64 = 100.0;

/// The process's CPU seconds (user + system), resident bytes and open file
/// descriptors, from /proc.
fn process_usage() -> (Option<f64>, Option<u64>, Option<u64>) {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    // Fields after the command name (which may hold spaces) in parentheses.
    let cpu = stat.as_deref().and_then(|stat| {
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / USER_HZ)
    });
    let status = std::fs::read_to_string("/proc/self/status").ok();
    let rss = status.as_deref().and_then(|status| {
        let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    let fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|dir| dir.count() as u64);
    (cpu, rss, fds)
}

fn disk(out: &mut String, data_dir: &Path) {
    let Ok(bytes) = engine::io::uring::filesystem_bytes(data_dir) else {
        return;
    };
    family(
        out,
        "maxiofs_disk_total_bytes",
        "gauge",
        "Size of the filesystem holding the data directory.",
    );
    let _ = writeln!(out, "maxiofs_disk_total_bytes {}", bytes.total_bytes);
    family(
        out,
        "maxiofs_disk_available_bytes",
        "gauge",
        "Bytes the server may still write on the data directory's filesystem.",
    );
    let _ = writeln!(
        out,
        "maxiofs_disk_available_bytes {}",
        bytes.available_bytes
    );
}

/// Requests, latency and bytes per operation, summed over the shards.
fn requests(out: &mut String, shards: &[ShardMetrics]) {
    use std::collections::BTreeMap;
    let mut merged: BTreeMap<&str, s3::metrics::OperationSnapshot> = BTreeMap::new();
    for shard in shards {
        for op in &shard.operations {
            let entry = merged.entry(op.operation).or_insert_with(|| {
                let mut empty = op.clone();
                empty.status_classes = [0; 6];
                empty.latency_cumulative = vec![0; op.latency_cumulative.len()];
                empty.latency_count = 0;
                empty.latency_sum_us = 0;
                empty.received_bytes = 0;
                empty.sent_bytes = 0;
                empty
            });
            for (total, n) in entry.status_classes.iter_mut().zip(op.status_classes) {
                *total += n;
            }
            for (total, n) in entry
                .latency_cumulative
                .iter_mut()
                .zip(&op.latency_cumulative)
            {
                *total += n;
            }
            entry.latency_count += op.latency_count;
            entry.latency_sum_us += op.latency_sum_us;
            entry.received_bytes += op.received_bytes;
            entry.sent_bytes += op.sent_bytes;
        }
    }
    family(
        out,
        "maxiofs_s3_requests_total",
        "counter",
        "S3, IAM and STS requests by operation and response status class (none: no response).",
    );
    for (operation, op) in &merged {
        for (class, count) in STATUS_CLASSES.iter().zip(op.status_classes) {
            let _ = writeln!(
                out,
                "maxiofs_s3_requests_total{{operation=\"{operation}\",status=\"{class}\"}} {count}"
            );
        }
    }
    family(
        out,
        "maxiofs_s3_request_duration_seconds",
        "histogram",
        "Time from a request's head to its last response byte, by operation.",
    );
    for (operation, op) in &merged {
        HistogramLines {
            name: "maxiofs_s3_request_duration_seconds",
            labels: format!("operation=\"{operation}\""),
            bounds: &LATENCY_BOUNDS_US,
            cumulative: &op.latency_cumulative,
            count: op.latency_count,
            sum: op.latency_sum_us,
            as_seconds: true,
        }
        .write(out);
    }
    family(
        out,
        "maxiofs_s3_received_bytes_total",
        "counter",
        "Request body bytes received, by operation.",
    );
    for (operation, op) in &merged {
        let _ = writeln!(
            out,
            "maxiofs_s3_received_bytes_total{{operation=\"{operation}\"}} {}",
            op.received_bytes
        );
    }
    family(
        out,
        "maxiofs_s3_sent_bytes_total",
        "counter",
        "Response body bytes sent, by operation.",
    );
    for (operation, op) in &merged {
        let _ = writeln!(
            out,
            "maxiofs_s3_sent_bytes_total{{operation=\"{operation}\"}} {}",
            op.sent_bytes
        );
    }
    let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
    for shard in shards {
        for (code, count) in &shard.errors {
            *errors.entry(code).or_default() += count;
        }
    }
    family(
        out,
        "maxiofs_s3_errors_total",
        "counter",
        "S3 error responses by error code.",
    );
    for (code, count) in errors {
        let _ = writeln!(out, "maxiofs_s3_errors_total{{code=\"{code}\"}} {count}");
    }
}

/// One gauge or counter per shard.
fn per_shard(
    out: &mut String,
    shards: &[ShardMetrics],
    (name, kind, help): (&str, &str, &str),
    value: impl Fn(&ShardMetrics) -> Option<u64>,
) {
    family(out, name, kind, help);
    for shard in shards {
        if let Some(value) = value(shard) {
            let _ = writeln!(out, "{name}{{shard=\"{}\"}} {value}", shard.shard);
        }
    }
}

fn shard_histogram(
    out: &mut String,
    shards: &[ShardMetrics],
    (name, help, as_seconds): (&str, &str, bool),
    histogram: impl Fn(&ShardMetrics) -> &engine::stats::BucketSnapshot,
) {
    family(out, name, "histogram", help);
    for shard in shards {
        let snapshot = histogram(shard);
        HistogramLines {
            name,
            labels: format!("shard=\"{}\"", shard.shard),
            bounds: &snapshot.bounds,
            cumulative: &snapshot.cumulative,
            count: snapshot.count,
            sum: snapshot.sum,
            as_seconds,
        }
        .write(out);
    }
}

fn shards_and_engine(out: &mut String, shards: &[ShardMetrics]) {
    per_shard(
        out,
        shards,
        (
            "maxiofs_engine_segments_poisoned",
            "gauge",
            "Segments set aside after a failed write or fdatasync (a disk failing).",
        ),
        |s| Some(s.segments_poisoned),
    );
    per_shard(
        out,
        shards,
        (
            "maxiofs_access_log_dropped_lines_total",
            "counter",
            "Access log lines dropped because the access log writer was behind.",
        ),
        |s| Some(s.access_log_dropped_lines),
    );
    per_shard(
        out,
        shards,
        (
            "maxiofs_http_connections_open",
            "gauge",
            "Open S3 connections.",
        ),
        |s| Some(s.connections_open),
    );
    per_shard(
        out,
        shards,
        (
            "maxiofs_shard_requests_in_flight",
            "gauge",
            "S3 requests being served.",
        ),
        |s| Some(s.in_flight),
    );
    per_shard(
        out,
        shards,
        (
            "maxiofs_shard_inbox_depth",
            "gauge",
            "Work from other shards and the control plane waiting in the shard's inbox.",
        ),
        |s| Some(s.inbox_depth),
    );
    per_shard(
        out,
        shards,
        (
            "maxiofs_engine_commit_queue_depth",
            "gauge",
            "Index changes waiting for the next group commit.",
        ),
        |s| Some(s.commit_queue),
    );
    shard_histogram(
        out,
        shards,
        (
            "maxiofs_engine_commit_batch_ops",
            "Index changes per group commit.",
            false,
        ),
        |s| &s.commit_batch_ops,
    );
    shard_histogram(
        out,
        shards,
        (
            "maxiofs_engine_fdatasync_duration_seconds",
            "Duration of each segment fdatasync.",
            true,
        ),
        |s| &s.fdatasync_us,
    );
    shard_histogram(
        out,
        shards,
        (
            "maxiofs_engine_commit_duration_seconds",
            "Duration of a group commit: the segments' fdatasync and the index transaction.",
            true,
        ),
        |s| &s.commit_us,
    );
    per_shard(
        out,
        shards,
        (
            "maxiofs_engine_live_bytes",
            "gauge",
            "Bytes of live records in the shard's segments.",
        ),
        |s| s.live_bytes,
    );
    per_shard(
        out,
        shards,
        (
            "maxiofs_engine_dead_bytes",
            "gauge",
            "Segment space not live: dead records and the active segment's unwritten tail.",
        ),
        |s| s.dead_bytes,
    );
    per_shard(
        out,
        shards,
        (
            "maxiofs_compaction_passes_total",
            "counter",
            "Compaction passes run.",
        ),
        |s| Some(s.compaction_passes),
    );
    per_shard(
        out,
        shards,
        (
            "maxiofs_compaction_relocated_bytes_total",
            "counter",
            "Live bytes compaction copied out of emptying segments.",
        ),
        |s| Some(s.compaction_bytes_relocated),
    );
    per_shard(
        out,
        shards,
        (
            "maxiofs_compaction_reclaimed_bytes_total",
            "counter",
            "Segment file bytes compaction returned to the filesystem.",
        ),
        |s| Some(s.compaction_bytes_reclaimed),
    );
    per_shard(
        out,
        shards,
        (
            "maxiofs_compaction_segments_removed_total",
            "counter",
            "Segment files compaction removed.",
        ),
        |s| Some(s.compaction_segments_removed),
    );
    family(
        out,
        "maxiofs_md5_chunks_total",
        "counter",
        "Upload chunks whose ETag MD5 was computed in SIMD lanes with others (batched), alone, \
         or by the commit loop with its batch's other small bodies (commit).",
    );
    for shard in shards {
        for (mode, count) in [
            ("batched", shard.md5_chunks_batched),
            ("alone", shard.md5_chunks_alone),
            ("commit", shard.md5_bodies_at_commit),
        ] {
            let _ = writeln!(
                out,
                "maxiofs_md5_chunks_total{{shard=\"{}\",mode=\"{mode}\"}} {count}",
                shard.shard
            );
        }
    }
}

fn scrub(out: &mut String, stats: &[std::sync::Arc<engine::scrub::ScrubStats>]) {
    use std::sync::atomic::Ordering::Relaxed;
    type Read = fn(&engine::scrub::ScrubStats) -> u64;
    let families: [(&str, &str, Read); 4] = [
        (
            "maxiofs_scrub_passes_total",
            "Full scrub passes completed.",
            |s| s.passes_completed.load(Relaxed),
        ),
        (
            "maxiofs_scrub_verified_entries_total",
            "Index entries the scrubber verified.",
            |s| s.entries_verified.load(Relaxed),
        ),
        (
            "maxiofs_scrub_verified_bytes_total",
            "Payload bytes the scrubber read and verified.",
            |s| s.payload_bytes_verified.load(Relaxed),
        ),
        (
            "maxiofs_scrub_problems_total",
            "Damage the scrubber found (see the server log).",
            |s| s.problems_found.load(Relaxed),
        ),
    ];
    for (name, help, value) in families {
        family(out, name, "counter", help);
        for (shard, stats) in stats.iter().enumerate() {
            let _ = writeln!(out, "{name}{{shard=\"{shard}\"}} {}", value(stats));
        }
    }
}

/// Log forwarding's queues and deliveries (only with `--log-forward`).
fn log_forward(out: &mut String, stats: &crate::ship::ShipperStats) {
    use std::sync::atomic::Ordering::Relaxed;
    let families = [
        (
            "maxiofs_log_forward_queued_bytes",
            "gauge",
            "Bytes waiting in the forwarding targets' durable queues.",
            stats.queued_bytes.load(Relaxed),
        ),
        (
            "maxiofs_log_forward_delivered_records_total",
            "counter",
            "Records a forwarding target accepted (once per target).",
            stats.delivered_records.load(Relaxed),
        ),
        (
            "maxiofs_log_forward_dropped_records_total",
            "counter",
            "Records dropped: a queue was full or its disk failed.",
            stats.dropped_records.load(Relaxed),
        ),
        (
            "maxiofs_log_forward_delivery_failures_total",
            "counter",
            "Delivery attempts a target refused or did not answer.",
            stats.delivery_failures.load(Relaxed),
        ),
    ];
    for (name, kind, help, value) in families {
        family(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
}

/// Bucket event notification queues and deliveries, per target.
fn notifications(out: &mut String, notifier: &crate::notify::Notifier) {
    use std::sync::atomic::Ordering::Relaxed;
    type Read = fn(&crate::notify::TargetStats) -> u64;
    let targets = notifier.stats();
    let families: [(&str, &str, &str, Read); 6] = [
        (
            "maxiofs_notification_queue_events",
            "gauge",
            "Events waiting in a notification target's durable queue.",
            |s| s.queued_events.load(Relaxed),
        ),
        (
            "maxiofs_notification_queue_bytes",
            "gauge",
            "Bytes waiting in a notification target's durable queue.",
            |s| s.queued_bytes.load(Relaxed),
        ),
        (
            "maxiofs_notification_delivered_total",
            "counter",
            "Events a notification target acknowledged.",
            |s| s.delivered.load(Relaxed),
        ),
        (
            "maxiofs_notification_failures_total",
            "counter",
            "Deliveries a notification target refused or did not answer.",
            |s| s.failures.load(Relaxed),
        ),
        (
            "maxiofs_notification_retried_total",
            "counter",
            "Events delivered after a failed attempt (each a possible duplicate).",
            |s| s.retried.load(Relaxed),
        ),
        (
            "maxiofs_notification_dropped_total",
            "counter",
            "Events not queued: the queue was past its headroom or its disk failed.",
            |s| s.dropped.load(Relaxed),
        ),
    ];
    for (name, kind, help, value) in families {
        family(out, name, kind, help);
        for (key, stats) in &targets {
            let (account, target) = key.split_once('/').unwrap_or(("", key));
            let _ = writeln!(
                out,
                "{name}{{account=\"{}\",target=\"{}\"}} {}",
                escape(account),
                escape(target),
                value(stats)
            );
        }
    }
    family(
        out,
        "maxiofs_notification_unrouted_total",
        "counter",
        "Events raised for a target deleted meanwhile (dropped).",
    );
    let _ = writeln!(
        out,
        "maxiofs_notification_unrouted_total {}",
        notifier.unrouted()
    );
}

fn process(out: &mut String) {
    let (cpu, rss, fds) = process_usage();
    if let Some(cpu) = cpu {
        family(
            out,
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time of the server process.",
        );
        let _ = writeln!(out, "process_cpu_seconds_total {cpu}");
    }
    if let Some(rss) = rss {
        family(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the server process.",
        );
        let _ = writeln!(out, "process_resident_memory_bytes {rss}");
    }
    if let Some(fds) = fds {
        family(
            out,
            "process_open_fds",
            "gauge",
            "Open file descriptors of the server process.",
        );
        let _ = writeln!(out, "process_open_fds {fds}");
    }
}

impl ControlPlane {
    /// The exposition, asked of every shard now.
    pub async fn metrics_text(&mut self) -> String {
        let mut shards = Vec::with_capacity(self.shards.len());
        for shard in &self.shards {
            let (reply, answer) = futures_channel::oneshot::channel();
            if shard.send(ShardRequest::Metrics { reply }).await.is_ok() {
                if let Ok(metrics) = answer.await {
                    shards.push(metrics);
                }
            }
        }
        let mut out = String::with_capacity(64 * 1024);
        family(
            &mut out,
            "maxiofs_shards",
            "gauge",
            "Data shards, and how many answered this scrape.",
        );
        let _ = writeln!(
            out,
            "maxiofs_shards{{state=\"configured\"}} {}",
            self.shards.len()
        );
        let _ = writeln!(
            out,
            "maxiofs_shards{{state=\"answering\"}} {}",
            shards.len()
        );
        requests(&mut out, &shards);
        shards_and_engine(&mut out, &shards);
        if let Some(stats) = self.scrub_stats.get() {
            scrub(&mut out, stats);
        }
        self.quota_lines(&mut out);
        self.alert_lines(&mut out);
        if let Some(shipper) = &self.log_forward {
            log_forward(&mut out, &shipper.stats());
        }
        notifications(&mut out, &self.notifier);
        disk(&mut out, &self.data_dir);
        process(&mut out);
        if self.metrics_settings.per_bucket {
            self.bucket_lines(&mut out).await;
        }
        out
    }

    fn quota_lines(&self, out: &mut String) {
        let counters = &self.metrics;
        family(
            out,
            "maxiofs_quota_leases_total",
            "counter",
            "Quota allotment requests from shards, by answer.",
        );
        for (outcome, count) in [
            ("granted", counters.quota_leases_granted),
            ("refused", counters.quota_leases_refused),
            ("unlimited", counters.quota_leases_unlimited),
        ] {
            let _ = writeln!(
                out,
                "maxiofs_quota_leases_total{{outcome=\"{outcome}\"}} {count}"
            );
        }
        family(
            out,
            "maxiofs_quota_returns_total",
            "counter",
            "Spare quota allotments shards gave back.",
        );
        let _ = writeln!(
            out,
            "maxiofs_quota_returns_total {}",
            counters.quota_returns
        );
    }

    /// Alerts now firing, by kind (0 or the number of subjects).
    fn alert_lines(&self, out: &mut String) {
        use crate::alerts::AlertKind;
        family(
            out,
            "maxiofs_alerts_firing",
            "gauge",
            "Alerts now firing (docs/operations.md, Alerts), by kind.",
        );
        let book = self.alerts.book.as_ref();
        for kind in [
            AlertKind::DiskNearlyFull,
            AlertKind::ShardFailing,
            AlertKind::ScrubDamage,
            AlertKind::TenantNearQuota,
            AlertKind::CertificateExpiring,
        ] {
            let firing = book.map_or(0, |book| {
                book.firing
                    .values()
                    .filter(|state| state.kind == kind)
                    .count()
            });
            let _ = writeln!(
                out,
                "maxiofs_alerts_firing{{alert=\"{}\"}} {firing}",
                kind.name()
            );
        }
    }

    /// Per-bucket usage (only with `--metrics-per-bucket`).
    async fn bucket_lines(&self, out: &mut String) {
        let usages = self.bucket_usages().await;
        let snapshot = self.snapshot.clone();
        family(
            out,
            "maxiofs_bucket_stored_bytes",
            "gauge",
            "Bytes of the objects (all versions) in a bucket.",
        );
        let mut rows: Vec<(String, String, engine::usage::BucketUsage)> = Vec::new();
        for bucket in snapshot.buckets.values() {
            let usage = usages.get(&bucket.id).copied().unwrap_or_default();
            let tenant = snapshot
                .account(&bucket.owner_account)
                .map(|account| account.name.clone())
                .unwrap_or_else(|| bucket.owner_account.clone());
            rows.push((escape(&bucket.name), escape(&tenant), usage));
        }
        for (bucket, tenant, usage) in &rows {
            let _ = writeln!(
                out,
                "maxiofs_bucket_stored_bytes{{bucket=\"{bucket}\",tenant=\"{tenant}\"}} {}",
                usage.bytes
            );
        }
        family(
            out,
            "maxiofs_bucket_objects",
            "gauge",
            "Objects (all versions) in a bucket.",
        );
        for (bucket, tenant, usage) in &rows {
            let _ = writeln!(
                out,
                "maxiofs_bucket_objects{{bucket=\"{bucket}\",tenant=\"{tenant}\"}} {}",
                usage.objects
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_write_cumulative_buckets_sum_and_count() {
        let mut out = String::new();
        HistogramLines {
            name: "x_seconds",
            labels: "operation=\"GetObject\"".into(),
            bounds: &[250, 1_000],
            cumulative: &[1, 3],
            count: 4,
            sum: 2_500_000,
            as_seconds: true,
        }
        .write(&mut out);
        assert_eq!(
            out,
            "x_seconds_bucket{operation=\"GetObject\",le=\"0.00025\"} 1\n\
             x_seconds_bucket{operation=\"GetObject\",le=\"0.001\"} 3\n\
             x_seconds_bucket{operation=\"GetObject\",le=\"+Inf\"} 4\n\
             x_seconds_sum{operation=\"GetObject\"} 2.5\n\
             x_seconds_count{operation=\"GetObject\"} 4\n"
        );
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
