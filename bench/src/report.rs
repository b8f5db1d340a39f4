//! Statistics of one measured phase: per-worker counters merged into a `PhaseReport`,
//! printed as a human table or as one `--json` line.
//!
//! Must not touch: sockets or threads; workers fill `WorkerStats`, the runner merges.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::limits::{LATENCY_SIGNIFICANT_DIGITS, LATENCY_US_MAX};
use crate::units::SizeRange;

const MIB_BYTES: f64 = (1u64 << 20) as f64;
const GIB_BYTES: f64 = (1u64 << 30) as f64;

/// What one worker counted.
pub struct WorkerStats {
    /// Latency of successful operations, in microseconds.
    pub latency_us: Histogram<u64>,
    pub ops: u64,
    /// Object body bytes sent (PUT) or received (GET, LIST) by successful operations.
    pub bytes: u64,
    /// What successful operations handled: objects, list entries, deleted keys,
    /// multipart parts.
    pub items: u64,
    /// Failed operations by HTTP status, or `io` for transport errors.
    pub errors: BTreeMap<String, u64>,
}

impl WorkerStats {
    pub fn new() -> Self {
        let latency_us = Histogram::new_with_bounds(1, LATENCY_US_MAX, LATENCY_SIGNIFICANT_DIGITS)
            .expect("the latency bounds are valid constants");
        WorkerStats {
            latency_us,
            ops: 0,
            bytes: 0,
            items: 0,
            errors: BTreeMap::new(),
        }
    }

    pub fn record_success(&mut self, latency_us: u64, bytes: u64, items: u64) {
        self.latency_us.saturating_record(latency_us.max(1));
        self.ops += 1;
        self.bytes += bytes;
        self.items += items;
    }

    pub fn record_error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn merge(&mut self, other: &WorkerStats) {
        self.latency_us
            .add(&other.latency_us)
            .expect("all histograms share the same bounds");
        self.ops += other.ops;
        self.bytes += other.bytes;
        self.items += other.items;
        for (kind, count) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += count;
        }
    }
}

impl Default for WorkerStats {
    fn default() -> Self {
        Self::new()
    }
}

/// One measured phase, ready to print.
pub struct PhaseReport {
    pub op: &'static str,
    pub size: SizeRange,
    pub concurrency: usize,
    pub elapsed_s: f64,
    pub stats: WorkerStats,
    /// Server CPU seconds used during the phase, when `--server-pid` was given.
    pub server_cpu_s: Option<f64>,
    /// The load generator's own CPU seconds during the phase: when it nears the
    /// machine's cores, the client and not the server is the bottleneck.
    pub client_cpu_s: Option<f64>,
}

impl PhaseReport {
    pub fn ops_per_s(&self) -> f64 {
        self.stats.ops as f64 / self.elapsed_s
    }

    pub fn items_per_s(&self) -> f64 {
        self.stats.items as f64 / self.elapsed_s
    }

    pub fn mib_per_s(&self) -> f64 {
        self.stats.bytes as f64 / MIB_BYTES / self.elapsed_s
    }

    fn latency_ms(&self, quantile: f64) -> f64 {
        self.stats.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn latency_ms_max(&self) -> f64 {
        self.stats.latency_us.max() as f64 / 1000.0
    }

    pub fn server_cpu_s_per_gib(&self) -> Option<f64> {
        let gib = self.stats.bytes as f64 / GIB_BYTES;
        self.server_cpu_s.filter(|_| gib > 0.0).map(|cpu| cpu / gib)
    }

    pub fn server_cpu_us_per_op(&self) -> Option<f64> {
        let ops = self.stats.ops as f64;
        self.server_cpu_s
            .filter(|_| ops > 0.0)
            .map(|cpu| cpu * 1e6 / ops)
    }

    /// One JSON object on one line. Field names are a public interface.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(512);
        let _ = write!(
            out,
            "{{\"op\":\"{}\",\"size_bytes\":{},\"size_bytes_max\":{},\"concurrency\":{},\
             \"duration_s\":{:.3},\"ops\":{},\"bytes\":{},\"items\":{},\"ops_per_s\":{:.1},\
             \"items_per_s\":{:.1},\"mib_per_s\":{:.2},",
            self.op,
            self.size.min_bytes,
            self.size.max_bytes,
            self.concurrency,
            self.elapsed_s,
            self.stats.ops,
            self.stats.bytes,
            self.stats.items,
            self.ops_per_s(),
            self.items_per_s(),
            self.mib_per_s(),
        );
        let _ = write!(
            out,
            "\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\
             \"max_ms\":{:.3},\"errors\":{},\"errors_by_status\":{{{}}},",
            self.latency_ms(0.5),
            self.latency_ms(0.9),
            self.latency_ms(0.99),
            self.latency_ms(0.999),
            self.latency_ms_max(),
            self.stats.error_count(),
            self.errors_json(),
        );
        let _ = write!(
            out,
            "\"server_cpu_s\":{},\"server_cpu_s_per_gib\":{},\"server_cpu_us_per_op\":{},\
             \"client_cpu_s\":{}}}",
            json_number(self.server_cpu_s, 3),
            json_number(self.server_cpu_s_per_gib(), 3),
            json_number(self.server_cpu_us_per_op(), 1),
            json_number(self.client_cpu_s, 3),
        );
        out
    }

    fn errors_json(&self) -> String {
        let entries: Vec<String> = self
            .stats
            .errors
            .iter()
            .map(|(kind, count)| format!("\"{kind}\":{count}"))
            .collect();
        entries.join(",")
    }

    /// A few aligned lines for a person.
    pub fn to_human(&self) -> String {
        let mut out = String::with_capacity(512);
        let _ = writeln!(
            out,
            "{} {} B x {} conn, {:.2} s: {} ops, {:.1} ops/s, {:.1} items/s, {:.2} MiB/s",
            self.op,
            self.size,
            self.concurrency,
            self.elapsed_s,
            self.stats.ops,
            self.ops_per_s(),
            self.items_per_s(),
            self.mib_per_s()
        );
        let _ = writeln!(
            out,
            "  latency ms  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
            self.latency_ms(0.5),
            self.latency_ms(0.9),
            self.latency_ms(0.99),
            self.latency_ms(0.999),
            self.latency_ms_max()
        );
        let errors = if self.stats.errors.is_empty() {
            "none".to_owned()
        } else {
            self.errors_json().replace('"', "")
        };
        let _ = writeln!(out, "  errors {} ({errors})", self.stats.error_count());
        if let Some(cpu_s) = self.client_cpu_s {
            let _ = writeln!(out, "  load generator cpu {cpu_s:.2} s");
        }
        if let Some(cpu_s) = self.server_cpu_s {
            let _ = writeln!(
                out,
                "  server cpu {cpu_s:.2} s, {} s/GiB, {} us/op",
                human_number(self.server_cpu_s_per_gib(), 3),
                human_number(self.server_cpu_us_per_op(), 1)
            );
        }
        out
    }
}

fn json_number(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "null".to_owned(),
    }
}

fn human_number(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "-".to_owned(),
    }
}
