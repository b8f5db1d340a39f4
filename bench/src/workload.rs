//! The workloads: create the bucket, prepare the object set GETs read from, then run
//! `concurrency` worker threads, each with its own connection, for the duration.
//!
//! Only the timed phase is measured and sampled for server CPU; connecting and
//! preparing happen before it. Every PUT body is unique: each worker fills one random
//! buffer and stamps (worker, sequence) over its first bytes before each request.
//!
//! Must not touch: output formatting (see `report`).
//!
//! Main types: `Target` (server and credentials), `LoadSpec` (what to run), `Op`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::client::{Endpoint, Response, S3Client};
use crate::cpu::CpuProbe;
use crate::limits::{BODY_PREFIX_BYTES, CONCURRENCY_MAX, IO_ERROR_BACKOFF, OBJECT_BYTES_MAX};
use crate::report::{PhaseReport, WorkerStats};
use crate::sign::Signer;

/// The operation mix of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Put,
    Get,
    Mixed,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
            Op::Mixed => "mixed",
        }
    }
}

/// The server and the credentials to sign with.
pub struct Target {
    pub endpoint: Endpoint,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    pub bucket: String,
}

impl Target {
    fn client(&self) -> S3Client {
        let signer = Signer::new(&self.access_key_id, &self.secret_access_key, &self.region);
        S3Client::new(self.endpoint.clone(), signer)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub op: Op,
    pub size_bytes: u64,
    pub concurrency: usize,
    pub duration: Duration,
    /// Objects prepared for `get` and `mixed` to read.
    pub objects: usize,
    /// Share of `mixed` operations that are PUTs, 0.0..=1.0.
    pub put_ratio: f64,
}

impl LoadSpec {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=CONCURRENCY_MAX).contains(&self.concurrency) {
            return Err(format!("--concurrency must be 1..={CONCURRENCY_MAX}"));
        }
        if self.size_bytes > OBJECT_BYTES_MAX {
            return Err(format!("--size must be at most {OBJECT_BYTES_MAX} bytes"));
        }
        if self.op != Op::Put && self.objects == 0 {
            return Err("--objects must be at least 1 for get and mixed".to_owned());
        }
        if !(0.0..=1.0).contains(&self.put_ratio) {
            return Err("--put-ratio must be between 0 and 1".to_owned());
        }
        Ok(())
    }

    fn size_usize(&self) -> usize {
        usize::try_from(self.size_bytes).expect("validated against OBJECT_BYTES_MAX")
    }
}

/// Runs one workload and returns its measured phase.
pub fn run(
    target: &Target,
    spec: &LoadSpec,
    server_pid: Option<u32>,
) -> Result<PhaseReport, String> {
    spec.validate()?;
    let run_id = format!("bench-{:016x}", rand::random::<u64>());
    create_bucket(target)?;
    let prepared_paths = match spec.op {
        Op::Put => Vec::new(),
        Op::Get | Op::Mixed => prepare_objects(target, spec, &run_id)?,
    };
    let phase = Phase {
        target,
        spec,
        run_id: &run_id,
        prepared_paths: &prepared_paths,
        error_printed: AtomicBool::new(false),
    };
    phase.measure(server_pid.map(CpuProbe::new))
}

/// PUT /bucket: 200 (created) and 409 (already exists) are both fine.
fn create_bucket(target: &Target) -> Result<(), String> {
    let path = format!("/{}", target.bucket);
    let response = target
        .client()
        .request("PUT", &path, &[])
        .map_err(|e| format!("creating bucket {}: {e}", target.bucket))?;
    if response.is_success() || response.status == 409 {
        return Ok(());
    }
    Err(format!(
        "creating bucket {}: {}",
        target.bucket,
        describe_error(&response)
    ))
}

/// PUTs `spec.objects` objects of `spec.size_bytes` with up to `spec.concurrency`
/// connections; returns their paths. Any failure fails the run: measuring GETs of
/// missing objects would measure nothing.
fn prepare_objects(target: &Target, spec: &LoadSpec, run_id: &str) -> Result<Vec<String>, String> {
    eprintln!(
        "preparing {} objects of {} bytes in {}",
        spec.objects, spec.size_bytes, target.bucket
    );
    let paths: Vec<String> = (0..spec.objects)
        .map(|i| format!("/{}/{run_id}/prepared/{i:08}", target.bucket))
        .collect();
    let workers = spec.concurrency.min(spec.objects);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let mine = paths.iter().enumerate().skip(w).step_by(workers);
                scope.spawn(move || prepare_objects_worker(target, spec, w, mine))
            })
            .collect();
        // Stops at the first failure; the scope still joins the other workers.
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("a prepare worker panicked"))
    })?;
    Ok(paths)
}

fn prepare_objects_worker<'a>(
    target: &Target,
    spec: &LoadSpec,
    worker: usize,
    paths: impl Iterator<Item = (usize, &'a String)>,
) -> Result<(), String> {
    let mut client = target.client();
    let mut body = random_body(spec.size_usize());
    for (index, path) in paths {
        stamp_body(&mut body, worker, index as u64);
        let response = client
            .request("PUT", path, &body)
            .map_err(|e| format!("preparing {path}: {e}"))?;
        if !response.is_success() {
            return Err(format!("preparing {path}: {}", describe_error(&response)));
        }
    }
    Ok(())
}

fn random_body(size_bytes: usize) -> Vec<u8> {
    let mut body = vec![0u8; size_bytes];
    StdRng::from_entropy().fill_bytes(&mut body);
    body
}

/// Overwrites the body's first bytes with (worker, sequence), making it unique in the run.
fn stamp_body(body: &mut [u8], worker: usize, sequence: u64) {
    let mut prefix = [0u8; BODY_PREFIX_BYTES];
    prefix[..8].copy_from_slice(&(worker as u64).to_le_bytes());
    prefix[8..].copy_from_slice(&sequence.to_le_bytes());
    let len = body.len().min(BODY_PREFIX_BYTES);
    body[..len].copy_from_slice(&prefix[..len]);
}

fn describe_error(response: &Response) -> String {
    format!(
        "HTTP {}: {}",
        response.status,
        String::from_utf8_lossy(&response.error_body).trim()
    )
}

/// The shared, read-only state of the timed phase.
struct Phase<'a> {
    target: &'a Target,
    spec: &'a LoadSpec,
    run_id: &'a str,
    prepared_paths: &'a [String],
    /// Only the first failure is printed, so a failing run does not flood stderr.
    error_printed: AtomicBool,
}

impl Phase<'_> {
    /// Starts the workers, waits until all are connected, samples the server's CPU,
    /// releases them, and samples again when the last one finishes. The load
    /// generator's own CPU is sampled too: it shares the machine with the server.
    fn measure(&self, server: Option<CpuProbe>) -> Result<PhaseReport, String> {
        let concurrency = self.spec.concurrency;
        let client = CpuProbe::new(std::process::id());
        let sample = || (server.as_ref().map(CpuProbe::cpu_s), client.cpu_s());
        let (connected, go) = (Barrier::new(concurrency + 1), Barrier::new(concurrency + 1));
        let (stats, elapsed_s, before, after) = thread::scope(|scope| {
            let handles: Vec<_> = (0..concurrency)
                .map(|w| {
                    let (connected, go) = (&connected, &go);
                    scope.spawn(move || self.worker(w, connected, go))
                })
                .collect();
            connected.wait();
            let before = sample();
            let started = Instant::now();
            go.wait();
            let mut stats = WorkerStats::new();
            for handle in handles {
                stats.merge(&handle.join().expect("a load worker panicked"));
            }
            (stats, started.elapsed().as_secs_f64(), before, sample())
        });
        let server_cpu_s = match (before.0.transpose()?, after.0.transpose()?) {
            (Some(before), Some(after)) => Some(after - before),
            _ => None,
        };
        let client_cpu_s = before.1.and_then(|b| after.1.map(|a| a - b)).ok();
        Ok(PhaseReport {
            op: self.spec.op.name(),
            size_bytes: self.spec.size_bytes,
            concurrency,
            elapsed_s,
            stats,
            server_cpu_s,
            client_cpu_s,
        })
    }

    fn worker(&self, index: usize, connected: &Barrier, go: &Barrier) -> WorkerStats {
        let mut stats = WorkerStats::new();
        let mut client = self.target.client();
        let mut rng = StdRng::from_entropy();
        let mut body = match self.spec.op {
            Op::Get => Vec::new(),
            Op::Put | Op::Mixed => random_body(self.spec.size_usize()),
        };
        if let Err(error) = client.connect() {
            self.record(&mut stats, Err(error), 0, 0);
        }
        connected.wait();
        go.wait();
        let deadline = Instant::now() + self.spec.duration;
        let mut sequence = 0u64;
        while Instant::now() < deadline {
            let started = Instant::now();
            let (result, put_bytes) = if self.next_is_put(&mut rng) {
                sequence += 1;
                self.worker_put(&mut client, &mut body, index, sequence)
            } else {
                let path = &self.prepared_paths[rng.gen_range(0..self.prepared_paths.len())];
                (client.request("GET", path, &[]), 0)
            };
            let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let io_failed = result.is_err();
            self.record(&mut stats, result, latency_us, put_bytes);
            if io_failed {
                thread::sleep(IO_ERROR_BACKOFF);
            }
        }
        stats
    }

    /// PUTs the worker's `sequence`th object; returns the result and the bytes sent.
    fn worker_put(
        &self,
        client: &mut S3Client,
        body: &mut [u8],
        index: usize,
        sequence: u64,
    ) -> (std::io::Result<Response>, u64) {
        stamp_body(body, index, sequence);
        let (bucket, run_id) = (&self.target.bucket, self.run_id);
        let path = format!("/{bucket}/{run_id}/w{index}/{sequence}");
        (client.request("PUT", &path, body), self.spec.size_bytes)
    }

    fn next_is_put(&self, rng: &mut StdRng) -> bool {
        match self.spec.op {
            Op::Put => true,
            Op::Get => false,
            Op::Mixed => rng.gen_bool(self.spec.put_ratio),
        }
    }

    /// Counts a finished request; a GET's bytes are those received.
    fn record(
        &self,
        stats: &mut WorkerStats,
        result: std::io::Result<Response>,
        latency_us: u64,
        put_bytes: u64,
    ) {
        match result {
            Ok(response) if response.is_success() => {
                stats.record_success(latency_us, put_bytes + response.body_bytes);
            }
            Ok(response) => {
                self.print_first_error(|| describe_error(&response));
                stats.record_error(response.status.to_string());
            }
            Err(error) => {
                self.print_first_error(|| format!("I/O error: {error}"));
                stats.record_error("io".to_owned());
            }
        }
    }

    fn print_first_error(&self, describe: impl FnOnce() -> String) {
        if !self.error_printed.swap(true, Ordering::Relaxed) {
            eprintln!("first error: {}", describe());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_bodies_differ_and_short_bodies_survive() {
        let mut a = vec![7u8; 64];
        let mut b = a.clone();
        stamp_body(&mut a, 1, 2);
        stamp_body(&mut b, 1, 3);
        assert_ne!(a, b);
        assert_eq!(a[BODY_PREFIX_BYTES..], b[BODY_PREFIX_BYTES..]);
        let mut tiny = vec![0u8; 3];
        stamp_body(&mut tiny, 1, 0);
        assert_eq!(tiny, [1, 0, 0]);
    }
}
