//! The workloads: create the bucket, prepare the object set that GET, LIST and DELETE
//! work on, then run `concurrency` workers, each with its own connection (a multipart
//! worker has one per parallel part, and sends the parts of an upload as concurrent
//! futures), for the duration.
//!
//! The workers are futures on `--threads` OS threads, each running one monoio runtime
//! with its share of them, so many connections cost no context switches the server's
//! cores would pay for. Setup runs on one runtime on the calling thread.
//!
//! Only the timed phase is measured and sampled for server CPU; connecting and
//! preparing happen before it. Every object body is unique: each worker fills one
//! random buffer and stamps (worker, sequence) over its first bytes before each
//! request, and over the first bytes of every multipart part.
//!
//! Must not touch: output formatting (see `report`).
//!
//! Main types: `Target` (server and credentials), `LoadSpec` (what to run), `Op`.

use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::future::join_all;
use md5::{Digest, Md5};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::client::{self, Endpoint, PayloadMode, Request, Response, S3Client};
use crate::cpu::CpuProbe;
use crate::limits::{BODY_PREFIX_BYTES, CONCURRENCY_MAX, IO_ERROR_BACKOFF, OBJECT_BYTES_MAX};
use crate::limits::{DELETE_BATCH_KEYS_MAX, LIST_PAGE_KEYS, MULTIPART_PARTS_MAX};
use crate::report::{PhaseReport, WorkerStats};
use crate::sign::Signer;
use crate::units::SizeRange;

/// S3's smallest part except the last.
const PART_BYTES_MIN: u64 = 5 << 20;
/// Most connections one multipart upload uses for its parts.
const PART_PARALLEL_MAX: usize = 64;
/// Objects per "directory" of a prepared set, so a delimiter listing has
/// `objects / 1000` common prefixes to roll up.
const PREPARED_KEYS_PER_DIRECTORY: usize = 1000;

/// The operation mix of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Put,
    Get,
    Mixed,
    List,
    Delete,
    Multipart,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
            Op::Mixed => "mixed",
            Op::List => "list",
            Op::Delete => "delete",
            Op::Multipart => "multipart",
        }
    }

    /// Whether the op reads a prepared set of objects.
    fn needs_prepared_set(self) -> bool {
        matches!(self, Op::Get | Op::Mixed | Op::List | Op::Delete)
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
    pub size: SizeRange,
    pub concurrency: usize,
    /// OS threads, each running one monoio runtime with its share of the workers; a run
    /// with fewer workers than this uses one thread per worker.
    pub threads: usize,
    pub duration: Duration,
    /// Objects prepared for `get`, `mixed`, `list` and `delete`.
    pub objects: usize,
    /// Share of `mixed` operations that are PUTs, 0.0..=1.0.
    pub put_ratio: f64,
    pub payload: PayloadMode,
    /// `list`: roll keys up at this delimiter (the prepared set has one level of
    /// "directories" of 1000 keys).
    pub delimiter: Option<String>,
    /// `delete`: keys per request; 1 is DeleteObject, more is DeleteObjects.
    pub delete_batch_keys: usize,
    /// `multipart`: part size and how many parts of one upload are in flight.
    pub part_size_bytes: u64,
    pub part_parallel: usize,
    /// Keep the prepared set of `get`, `mixed` and `list` under a name derived from
    /// its shape, and skip preparing when it is already there.
    pub reuse_prepared: bool,
}

impl LoadSpec {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=CONCURRENCY_MAX).contains(&self.concurrency) {
            return Err(format!("--concurrency must be 1..={CONCURRENCY_MAX}"));
        }
        // More runtime threads than cores would bring back the context switches they
        // exist to avoid.
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        if !(1..=cores).contains(&self.threads) {
            return Err(format!(
                "--threads must be 1..={cores}, the cores available"
            ));
        }
        if self.size.max_bytes > OBJECT_BYTES_MAX {
            return Err(format!("--size must be at most {OBJECT_BYTES_MAX} bytes"));
        }
        if self.op.needs_prepared_set() && self.objects == 0 {
            return Err("--objects must be at least 1".to_owned());
        }
        if !(0.0..=1.0).contains(&self.put_ratio) {
            return Err("--put-ratio must be between 0 and 1".to_owned());
        }
        if !(1..=DELETE_BATCH_KEYS_MAX).contains(&self.delete_batch_keys) {
            return Err(format!("--batch must be 1..={DELETE_BATCH_KEYS_MAX}"));
        }
        if self.op == Op::Multipart {
            if self.part_size_bytes < PART_BYTES_MIN {
                return Err(format!(
                    "--part-size must be at least {PART_BYTES_MIN} bytes"
                ));
            }
            if self.size.max_bytes.div_ceil(self.part_size_bytes) > MULTIPART_PARTS_MAX {
                return Err(format!(
                    "--size / --part-size exceeds {MULTIPART_PARTS_MAX} parts"
                ));
            }
            if !(1..=PART_PARALLEL_MAX).contains(&self.part_parallel) {
                return Err(format!("--part-parallel must be 1..={PART_PARALLEL_MAX}"));
            }
        }
        Ok(())
    }

    fn size_max_usize(&self) -> usize {
        usize::try_from(self.size.max_bytes).expect("validated against OBJECT_BYTES_MAX")
    }

    fn pick_size(&self, rng: &mut StdRng) -> usize {
        let size = match self.size.is_fixed() {
            true => self.size.min_bytes,
            false => rng.gen_range(self.size.min_bytes..=self.size.max_bytes),
        };
        usize::try_from(size).expect("validated against OBJECT_BYTES_MAX")
    }
}

/// Where the prepared set lives: its path prefix (`/bucket/set/`) and its paths.
struct PreparedSet {
    /// Key prefix of the set inside the bucket, ending in "/".
    key_prefix: String,
    paths: Vec<String>,
}

/// Runs one workload and returns its measured phase.
pub fn run(
    target: &Target,
    spec: &LoadSpec,
    server_pid: Option<u32>,
) -> Result<PhaseReport, String> {
    spec.validate()?;
    let run_id = format!("bench-{:016x}", rand::random::<u64>());
    let prepared = client::block_on(set_up(target, spec, &run_id))
        .map_err(|e| format!("starting a monoio runtime: {e}"))??;
    let phase = Phase {
        target,
        spec,
        run_id: &run_id,
        prepared: &prepared,
        next_delete: AtomicUsize::new(0),
        error_printed: AtomicBool::new(false),
    };
    phase.measure(server_pid.map(CpuProbe::new))
}

/// Creates the bucket and prepares the object set the op needs, if any.
async fn set_up(target: &Target, spec: &LoadSpec, run_id: &str) -> Result<PreparedSet, String> {
    create_bucket(target).await?;
    match spec.op.needs_prepared_set() {
        true => prepare_objects(target, spec, run_id).await,
        false => Ok(PreparedSet {
            key_prefix: String::new(),
            paths: Vec::new(),
        }),
    }
}

/// PUT /bucket: 200 (created) and 409 (already exists) are both fine.
async fn create_bucket(target: &Target) -> Result<(), String> {
    let path = format!("/{}", target.bucket);
    let response = target
        .client()
        .request("PUT", &path, &[])
        .await
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

/// PUTs `spec.objects` objects with up to `spec.concurrency` connections, in
/// "directories" of 1000; returns their paths. Any failure fails the run: measuring
/// reads of missing objects would measure nothing. A reused set is found by HEAD of
/// its last object, which is written last.
async fn prepare_objects(
    target: &Target,
    spec: &LoadSpec,
    run_id: &str,
) -> Result<PreparedSet, String> {
    let reuse = spec.reuse_prepared && spec.op != Op::Delete;
    let key_prefix = match reuse {
        true => format!("prepared-{}x{}/", spec.objects, spec.size),
        false => format!("{run_id}/prepared/"),
    };
    let bucket = &target.bucket;
    let paths: Vec<String> = (0..spec.objects)
        .map(|i| {
            let directory = i / PREPARED_KEYS_PER_DIRECTORY;
            format!("/{bucket}/{key_prefix}{directory:05}/{i:08}")
        })
        .collect();
    let set = PreparedSet { key_prefix, paths };
    let (last, rest) = set.paths.split_last().expect("validated: objects >= 1");
    if reuse
        && target
            .client()
            .request("HEAD", last, &[])
            .await
            .is_ok_and(|r| r.is_success())
    {
        eprintln!("reusing {} prepared objects in {bucket}", spec.objects);
        return Ok(set);
    }
    eprintln!(
        "preparing {} objects of {} bytes in {bucket}",
        spec.objects, spec.size
    );
    let workers = spec.concurrency.min(rest.len()).max(1);
    let stripes = (0..workers).map(|w| {
        let mine = rest.iter().enumerate().skip(w).step_by(workers);
        prepare_objects_worker(target, spec, w, mine)
    });
    // Every worker runs to its end; the first failure in worker order is reported.
    join_all(stripes)
        .await
        .into_iter()
        .collect::<Result<(), String>>()?;
    prepare_objects_worker(target, spec, 0, std::iter::once((rest.len(), last))).await?;
    Ok(set)
}

async fn prepare_objects_worker<'a>(
    target: &Target,
    spec: &LoadSpec,
    worker: usize,
    paths: impl Iterator<Item = (usize, &'a String)>,
) -> Result<(), String> {
    let mut client = target.client();
    let mut rng = StdRng::from_entropy();
    let mut body = random_body(spec.size_max_usize());
    for (index, path) in paths {
        let size = spec.pick_size(&mut rng);
        stamp_body(&mut body[..size], worker, index as u64);
        let response = client
            .request("PUT", path, &body[..size])
            .await
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
    let body = match response.is_success() {
        true => &response.body,
        false => &response.error_body,
    };
    format!(
        "HTTP {}: {}",
        response.status,
        String::from_utf8_lossy(body).trim()
    )
}

/// The text of the first `<tag>` element, XML entities decoded. Enough for the few
/// fields we read from S3 responses (upload ids, continuation tokens).
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// `&`, `<` and `>` escaped for an XML text node.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The key inside the bucket of a `/bucket/key` path.
fn key_of<'p>(path: &'p str, bucket: &str) -> &'p str {
    &path[bucket.len() + 2..]
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

/// The workers of runtime thread `thread_index` of `threads`: consecutive indices, the
/// remainder of `concurrency / threads` spread one each over the first threads.
fn workers_of_thread(concurrency: usize, threads: usize, thread_index: usize) -> Range<usize> {
    let (share, extra) = (concurrency / threads, concurrency % threads);
    let start = thread_index * share + thread_index.min(extra);
    start..start + share + usize::from(thread_index < extra)
}

/// How one timed operation ended.
enum Outcome {
    Success {
        bytes: u64,
        items: u64,
    },
    /// An S3 error (`kind` is the HTTP status) or a transport error (`io`).
    Failed {
        kind: String,
        description: String,
    },
    /// Nothing left to do (`delete` ran out of prepared keys).
    Exhausted,
}

impl Outcome {
    /// A response as the outcome of an operation that moved `bytes` and `items`.
    fn of(result: io::Result<Response>, bytes: u64, items: u64) -> Outcome {
        match result {
            Ok(response) if response.is_success() => Outcome::Success { bytes, items },
            Ok(response) => Outcome::failed(&response),
            Err(error) => Outcome::Failed {
                kind: "io".to_owned(),
                description: format!("I/O error: {error}"),
            },
        }
    }

    fn failed(response: &Response) -> Outcome {
        Outcome::Failed {
            kind: response.status.to_string(),
            description: describe_error(response),
        }
    }

    /// A 200 whose body is an S3 `<Error>` (CompleteMultipartUpload, quiet DeleteObjects).
    fn error_in_body(response: &Response) -> Outcome {
        Outcome::Failed {
            kind: format!("{}-error-in-body", response.status),
            description: describe_error(response),
        }
    }
}

/// One worker's connections and state between operations.
struct WorkerState {
    index: usize,
    client: S3Client,
    /// Extra connections for the parallel parts of a multipart upload.
    part_clients: Vec<S3Client>,
    rng: StdRng,
    body: Vec<u8>,
    sequence: u64,
    /// Where this worker's listing resumes; None starts from the beginning.
    list_continuation: Option<String>,
}

/// The shared, read-only state of the timed phase.
struct Phase<'a> {
    target: &'a Target,
    spec: &'a LoadSpec,
    run_id: &'a str,
    prepared: &'a PreparedSet,
    /// `delete`: the next prepared object no worker has taken yet.
    next_delete: AtomicUsize,
    /// Only the first failure is printed, so a failing run does not flood stderr.
    error_printed: AtomicBool,
}

impl Phase<'_> {
    /// Starts the runtime threads, waits until all their workers are connected, samples
    /// the server's CPU, releases them, and samples again when the last one finishes.
    /// The load generator's own CPU is sampled too: it shares the machine with the server.
    fn measure(&self, server: Option<CpuProbe>) -> Result<PhaseReport, String> {
        let concurrency = self.spec.concurrency;
        let threads = self.spec.threads.min(concurrency);
        let client = CpuProbe::new(std::process::id());
        let sample = || (server.as_ref().map(CpuProbe::cpu_s), client.cpu_s());
        let (connected, go) = (Barrier::new(threads + 1), Barrier::new(threads + 1));
        let (results, elapsed_s, before, after) = thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let workers = workers_of_thread(concurrency, threads, t);
                    let (connected, go) = (&connected, &go);
                    scope.spawn(move || self.runtime_thread(workers, connected, go))
                })
                .collect();
            connected.wait();
            let before = sample();
            let started = Instant::now();
            go.wait();
            let results: Vec<Result<WorkerStats, String>> = handles
                .into_iter()
                .map(|handle| handle.join().expect("a load thread panicked"))
                .collect();
            (results, started.elapsed().as_secs_f64(), before, sample())
        });
        let mut stats = WorkerStats::new();
        for result in results {
            stats.merge(&result?);
        }
        let server_cpu_s = match (before.0.transpose()?, after.0.transpose()?) {
            (Some(before), Some(after)) => Some(after - before),
            _ => None,
        };
        let client_cpu_s = before.1.and_then(|b| after.1.map(|a| a - b)).ok();
        Ok(PhaseReport {
            op: self.spec.op.name(),
            size: self.spec.size,
            concurrency,
            elapsed_s,
            stats,
            server_cpu_s,
            client_cpu_s,
        })
    }

    /// One runtime thread: connects its workers, waits at the two barriers with the
    /// other threads, then runs the workers to the deadline as concurrent futures.
    fn runtime_thread(
        &self,
        workers: Range<usize>,
        connected: &Barrier,
        go: &Barrier,
    ) -> Result<WorkerStats, String> {
        let run = async {
            let ready = join_all(workers.map(|w| self.worker_connect(w))).await;
            // Blocking the runtime's thread is what we want here: all of its workers
            // are waiting for the start, and nothing else runs on it.
            connected.wait();
            go.wait();
            let deadline = Instant::now() + self.spec.duration;
            let running = ready
                .into_iter()
                .map(|(state, stats)| self.worker_run(state, stats, deadline));
            let mut merged = WorkerStats::new();
            for stats in join_all(running).await {
                merged.merge(&stats);
            }
            merged
        };
        client::block_on(run).map_err(|e| {
            // The workers never ran: still meet the others at the barriers.
            connected.wait();
            go.wait();
            format!("starting a monoio runtime: {e}")
        })
    }

    /// A worker's state with its connections open; a connect failure is its first error.
    async fn worker_connect(&self, index: usize) -> (WorkerState, WorkerStats) {
        let mut stats = WorkerStats::new();
        let part_clients = match self.spec.op {
            Op::Multipart => (1..self.spec.part_parallel)
                .map(|_| self.target.client())
                .collect(),
            _ => Vec::new(),
        };
        let mut state = WorkerState {
            index,
            client: self.target.client(),
            part_clients,
            rng: StdRng::from_entropy(),
            body: match self.spec.op {
                Op::Put | Op::Mixed | Op::Multipart => random_body(self.spec.size_max_usize()),
                Op::Get | Op::List | Op::Delete => Vec::new(),
            },
            sequence: 0,
            list_continuation: None,
        };
        for client in std::iter::once(&mut state.client).chain(&mut state.part_clients) {
            if let Err(error) = client.connect().await {
                self.record(&mut stats, Outcome::of(Err(error), 0, 0), 0);
                break;
            }
        }
        (state, stats)
    }

    /// Runs timed operations until `deadline` (or until `delete` runs out of keys).
    async fn worker_run(
        &self,
        mut state: WorkerState,
        mut stats: WorkerStats,
        deadline: Instant,
    ) -> WorkerStats {
        while Instant::now() < deadline {
            let started = Instant::now();
            let outcome = self.step(&mut state).await;
            let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            if matches!(outcome, Outcome::Exhausted) {
                break;
            }
            let io_failed = matches!(&outcome, Outcome::Failed { kind, .. } if kind == "io");
            self.record(&mut stats, outcome, latency_us);
            if io_failed {
                monoio::time::sleep(IO_ERROR_BACKOFF).await;
            }
        }
        stats
    }

    /// One timed operation of the run's op.
    async fn step(&self, state: &mut WorkerState) -> Outcome {
        let put = match self.spec.op {
            Op::Put => true,
            Op::Mixed => state.rng.gen_bool(self.spec.put_ratio),
            Op::Get => false,
            Op::List => return self.list_page(state).await,
            Op::Delete => return self.delete_batch(state).await,
            Op::Multipart => return self.multipart_object(state).await,
        };
        if put {
            return self.put_object(state).await;
        }
        let paths = &self.prepared.paths;
        let path = &paths[state.rng.gen_range(0..paths.len())];
        match state.client.request("GET", path, &[]).await {
            Ok(response) => {
                let bytes = response.body_bytes;
                Outcome::of(Ok(response), bytes, 1)
            }
            Err(error) => Outcome::of(Err(error), 0, 0),
        }
    }

    /// PUTs the worker's next object.
    async fn put_object(&self, state: &mut WorkerState) -> Outcome {
        state.sequence += 1;
        let size = self.spec.pick_size(&mut state.rng);
        let body = &mut state.body[..size];
        stamp_body(body, state.index, state.sequence);
        let (bucket, run_id) = (&self.target.bucket, self.run_id);
        let path = format!("/{bucket}/{run_id}/w{}/{}", state.index, state.sequence);
        let mut request = Request::new("PUT", &path);
        request.body = body;
        request.payload = self.spec.payload;
        Outcome::of(state.client.send(&request).await, size as u64, 1)
    }

    /// One ListObjectsV2 page of up to 1000 entries over the prepared set; a worker
    /// that reaches the end starts over.
    async fn list_page(&self, state: &mut WorkerState) -> Outcome {
        let mut query = vec![
            pair("list-type", "2"),
            pair("max-keys", &LIST_PAGE_KEYS.to_string()),
            pair("prefix", &self.prepared.key_prefix),
        ];
        if let Some(delimiter) = &self.spec.delimiter {
            query.push(pair("delimiter", delimiter));
        }
        if let Some(token) = &state.list_continuation {
            query.push(pair("continuation-token", token));
        }
        let path = format!("/{}", self.target.bucket);
        let mut request = Request::new("GET", &path);
        request.query = &query;
        request.capture_body = true;
        let response = match state.client.send(&request).await {
            Ok(response) if response.is_success() => response,
            other => return Outcome::of(other, 0, 0),
        };
        let xml = String::from_utf8_lossy(&response.body);
        state.list_continuation = match xml_text(&xml, "IsTruncated").as_deref() {
            Some("true") => xml_text(&xml, "NextContinuationToken"),
            _ => None,
        };
        let items = xml.matches("<Contents>").count() + xml.matches("<CommonPrefixes>").count();
        Outcome::Success {
            bytes: response.body_bytes,
            items: items as u64,
        }
    }

    /// Deletes the next `--batch` prepared objects: DeleteObject for one, a quiet
    /// DeleteObjects for more.
    async fn delete_batch(&self, state: &mut WorkerState) -> Outcome {
        let batch = self.spec.delete_batch_keys;
        let paths = &self.prepared.paths;
        let first = self.next_delete.fetch_add(batch, Ordering::Relaxed);
        if first >= paths.len() {
            return Outcome::Exhausted;
        }
        let taken = &paths[first..paths.len().min(first + batch)];
        if batch == 1 {
            let response = state.client.request("DELETE", &taken[0], &[]).await;
            return Outcome::of(response, 0, 1);
        }
        let bucket = &self.target.bucket;
        let mut xml = String::from("<Delete><Quiet>true</Quiet>");
        for path in taken {
            let key = xml_escape(key_of(path, bucket));
            xml.push_str(&format!("<Object><Key>{key}</Key></Object>"));
        }
        xml.push_str("</Delete>");
        let content_md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&xml));
        let headers = [pair("content-md5", &content_md5)];
        let query = [pair("delete", "")];
        let path = format!("/{bucket}");
        let mut request = Request::new("POST", &path);
        request.query = &query;
        request.headers = &headers;
        request.body = xml.as_bytes();
        request.capture_body = true;
        match state.client.send(&request).await {
            Ok(response)
                if response.is_success() && response.body.windows(7).any(|w| w == b"<Error>") =>
            {
                Outcome::error_in_body(&response)
            }
            other => Outcome::of(other, 0, taken.len() as u64),
        }
    }

    /// One whole multipart upload: create, the parts over `--part-parallel`
    /// connections, complete. Latency is the whole object's.
    async fn multipart_object(&self, state: &mut WorkerState) -> Outcome {
        state.sequence += 1;
        let size = self.spec.pick_size(&mut state.rng);
        let (bucket, run_id) = (&self.target.bucket, self.run_id);
        let path = format!("/{bucket}/{run_id}/w{}/{}", state.index, state.sequence);
        let upload_id = match self.create_upload(&mut state.client, &path).await {
            Ok(upload_id) => upload_id,
            Err(outcome) => return outcome,
        };
        let part_bytes = usize::try_from(self.spec.part_size_bytes).unwrap_or(usize::MAX);
        let body = &mut state.body[..size];
        // Every part starts with its own stamp, so no part repeats another's bytes.
        for (part, chunk) in body.chunks_mut(part_bytes).enumerate() {
            let sequence = state.sequence * MULTIPART_PARTS_MAX + part as u64;
            stamp_body(chunk, state.index, sequence);
        }
        let parts: Vec<&[u8]> = match body.is_empty() {
            true => vec![&[]],
            false => body.chunks(part_bytes).collect(),
        };
        let lanes = std::iter::once(&mut state.client).chain(&mut state.part_clients);
        let etags = match self.upload_parts(lanes, &path, &upload_id, &parts).await {
            Ok(etags) => etags,
            Err(outcome) => {
                let query = [pair("uploadId", &upload_id)];
                let mut abort = Request::new("DELETE", &path);
                abort.query = &query;
                let _ = state.client.send(&abort).await;
                return outcome;
            }
        };
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (i, etag) in etags.iter().enumerate() {
            let number = i + 1;
            let etag = xml_escape(etag);
            xml.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let query = [pair("uploadId", &upload_id)];
        let mut complete = Request::new("POST", &path);
        complete.query = &query;
        complete.body = xml.as_bytes();
        complete.capture_body = true;
        match state.client.send(&complete).await {
            Ok(response)
                if response.is_success()
                    && xml_text(&String::from_utf8_lossy(&response.body), "ETag").is_none() =>
            {
                Outcome::error_in_body(&response)
            }
            other => Outcome::of(other, size as u64, parts.len() as u64),
        }
    }

    async fn create_upload(&self, client: &mut S3Client, path: &str) -> Result<String, Outcome> {
        let query = [pair("uploads", "")];
        let mut request = Request::new("POST", path);
        request.query = &query;
        request.capture_body = true;
        match client.send(&request).await {
            Ok(response) if response.is_success() => {
                xml_text(&String::from_utf8_lossy(&response.body), "UploadId")
                    .ok_or_else(|| Outcome::error_in_body(&response))
            }
            other => Err(Outcome::of(other, 0, 0)),
        }
    }

    /// Uploads `parts` (part i+1 is `parts[i]`), connection c taking parts c, c+P, …,
    /// the connections as concurrent futures; returns the ETags in part order, or the
    /// first failure.
    async fn upload_parts<'c>(
        &self,
        clients: impl Iterator<Item = &'c mut S3Client>,
        path: &str,
        upload_id: &str,
        parts: &[&[u8]],
    ) -> Result<Vec<String>, Outcome> {
        let clients: Vec<&mut S3Client> = clients.collect();
        let lanes = clients.len();
        let uploads = clients.into_iter().enumerate().map(|(lane, client)| {
            let mine = parts.iter().enumerate().skip(lane).step_by(lanes);
            self.upload_parts_lane(client, path, upload_id, mine)
        });
        let mut etags = vec![String::new(); parts.len()];
        for lane in join_all(uploads).await {
            for (i, etag) in lane? {
                etags[i] = etag;
            }
        }
        Ok(etags)
    }

    /// One connection's share of `upload_parts`, in turn: (index, ETag) of each part.
    async fn upload_parts_lane<'p>(
        &self,
        client: &mut S3Client,
        path: &str,
        upload_id: &str,
        parts: impl Iterator<Item = (usize, &'p &'p [u8])>,
    ) -> Result<Vec<(usize, String)>, Outcome> {
        let mut etags = Vec::new();
        for (i, part) in parts {
            let query = [
                pair("partNumber", &(i + 1).to_string()),
                pair("uploadId", upload_id),
            ];
            let mut request = Request::new("PUT", path);
            request.query = &query;
            request.body = part;
            request.payload = self.spec.payload;
            match client.send(&request).await {
                Ok(response) if response.is_success() => match response.etag {
                    Some(etag) => etags.push((i, etag)),
                    None => return Err(Outcome::error_in_body(&response)),
                },
                other => return Err(Outcome::of(other, 0, 0)),
            }
        }
        Ok(etags)
    }

    /// Counts a finished operation.
    fn record(&self, stats: &mut WorkerStats, outcome: Outcome, latency_us: u64) {
        match outcome {
            Outcome::Success { bytes, items } => stats.record_success(latency_us, bytes, items),
            Outcome::Failed { kind, description } => {
                if !self.error_printed.swap(true, Ordering::Relaxed) {
                    eprintln!("first error: {description}");
                }
                stats.record_error(kind);
            }
            Outcome::Exhausted => {}
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

    #[test]
    fn workers_are_spread_over_threads_in_order_and_evenly() {
        for (concurrency, threads) in [(1, 1), (8, 1), (64, 2), (7, 2), (10, 4), (5, 5)] {
            let ranges: Vec<Range<usize>> = (0..threads)
                .map(|t| workers_of_thread(concurrency, threads, t))
                .collect();
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges[threads - 1].end, concurrency);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert!(pair[0].len() == pair[1].len() || pair[0].len() == pair[1].len() + 1);
            }
        }
    }
}
