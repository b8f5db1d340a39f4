//! `maxiofs-bench`: the command line. Parses arguments, runs one workload or the
//! ceiling probe, prints the result. The command shape is a public interface that
//! scripts depend on: extend it, do not change it.
//!
//! Exit status: 0 when the measured phase had no errors, 1 when it had some or the
//! run could not start, 2 for bad arguments.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bench::ceiling::CeilingSpec;
use bench::client::{Endpoint, PayloadMode};
use bench::tls::TlsTrust;
use bench::units::{parse_duration, parse_size_bytes, parse_size_range, SizeRange};
use bench::workload::{self, LoadSpec, Op, Target};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "maxiofs-bench",
    version,
    about = "S3 load generator for maxiofs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// PUT unique objects for the duration.
    Put(LoadArgs),
    /// GET random objects from a prepared set for the duration.
    Get(LoadArgs),
    /// PUT and GET mixed by --put-ratio.
    Mixed(LoadArgs),
    /// ListObjectsV2 pages of 1000 over a prepared set (flat, or --delimiter /).
    List(LoadArgs),
    /// Delete a prepared set: DeleteObject, or DeleteObjects of --batch keys.
    Delete(LoadArgs),
    /// Whole multipart uploads of --size in parts of --part-size.
    Multipart(LoadArgs),
    /// This machine's limits: single-core MD5, CRC32C, SHA-256 and AES-256-CTR +
    /// HMAC-SHA256 rates, O_DIRECT disk write/read and loopback TCP bandwidth.
    Ceiling(CeilingArgs),
}

#[derive(Args)]
struct LoadArgs {
    /// Server URL, e.g. http://127.0.0.1:9000 or https://127.0.0.1:9443. https needs
    /// --ca-file or --insecure: no system root certificates are used.
    #[arg(long)]
    endpoint: String,
    /// https: accept any server certificate for any name (handshake signatures are
    /// still verified). For test servers with throwaway certificates.
    #[arg(long, conflicts_with = "ca_file")]
    insecure: bool,
    /// https: trust the certificates in this PEM file (a CA, or the server's own
    /// self-signed certificate if it is not marked as a CA). The certificate must name
    /// the endpoint's host.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// `path` (/bucket/key) or `virtual` (bucket.host/key; the server must know the
    /// endpoint's host as its domain).
    #[arg(long, default_value = "path", value_parser = ["path", "virtual"])]
    addressing: String,
    /// How bodies are signed: unsigned, signed (SHA-256) or aws-chunked.
    #[arg(long, default_value = "unsigned", value_parser = PayloadMode::parse)]
    payload: PayloadMode,
    #[arg(long, env = "MAXIOFS_BENCH_ACCESS_KEY")]
    access_key: String,
    #[arg(long, env = "MAXIOFS_BENCH_SECRET_KEY", hide_env_values = true)]
    secret_key: String,
    /// Created if missing.
    #[arg(long, default_value = "maxiofs-bench")]
    bucket: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Object size: 4KiB, 1MiB, 5MB, 1048576, or a uniform range 256KiB..8MiB.
    #[arg(long, default_value = "1MiB", value_parser = parse_size_range)]
    size: SizeRange,
    /// Connections, one worker each; the workers are spread over --threads.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// OS threads for the workers, each running one io_uring (monoio) runtime; at most
    /// the cores available. No more threads than workers are started.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Length of the measured phase: 5s, 500ms, 2m.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
    /// Objects prepared for get, mixed, list and delete.
    #[arg(long, default_value_t = 64)]
    objects: usize,
    /// Keep the prepared set of get, mixed and list, and reuse it when present
    /// (a 1M-key listing bucket is prepared once).
    #[arg(long)]
    reuse_prepared: bool,
    /// list: roll keys up at this delimiter.
    #[arg(long)]
    delimiter: Option<String>,
    /// delete: keys per request (1 = DeleteObject, up to 1000 = DeleteObjects).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// multipart: part size.
    #[arg(long, default_value = "8MiB", value_parser = parse_size_bytes)]
    part_size: u64,
    /// multipart: parts of one upload in flight, each on its own connection.
    #[arg(long, default_value_t = 4)]
    part_parallel: usize,
    /// Share of mixed operations that are PUTs.
    #[arg(long, default_value_t = 0.5)]
    put_ratio: f64,
    /// Server process whose CPU time to report per GiB and per operation.
    #[arg(long)]
    server_pid: Option<u32>,
    /// One JSON object per phase instead of the human table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CeilingArgs {
    /// Bytes to hash (and encrypt) with each algorithm.
    #[arg(long, default_value = "1GiB", value_parser = parse_size_bytes)]
    total: u64,
    /// Directory whose disk to measure. A temporary file is written there and removed.
    #[arg(long, default_value = ".")]
    data_dir: PathBuf,
    /// Bytes written to --data-dir and read back, in 1 MiB O_DIRECT I/Os (buffered when
    /// the filesystem refuses O_DIRECT, as tmpfs did before Linux 6.6; the output says so).
    #[arg(long, default_value = "1GiB", value_parser = parse_size_bytes)]
    disk_bytes: u64,
    /// Bytes sent over loopback TCP, in 1 MiB writes.
    #[arg(long, default_value = "2GiB", value_parser = parse_size_bytes)]
    tcp_bytes: u64,
    /// Durable commits of each index write pattern (B-tree pages, a sequential log, one
    /// page), on a 64 MiB temporary file in --data-dir.
    #[arg(long, default_value_t = 300)]
    commits: u64,
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (op, args) = match cli.command {
        Command::Put(args) => (Op::Put, args),
        Command::Get(args) => (Op::Get, args),
        Command::Mixed(args) => (Op::Mixed, args),
        Command::List(args) => (Op::List, args),
        Command::Delete(args) => (Op::Delete, args),
        Command::Multipart(args) => (Op::Multipart, args),
        Command::Ceiling(args) => return run_ceiling(&args),
    };
    match run_load(op, &args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("maxiofs-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_load(op: Op, args: &LoadArgs) -> Result<ExitCode, String> {
    let trust = match (args.insecure, &args.ca_file) {
        (true, _) => Some(TlsTrust::Insecure),
        (false, Some(path)) => Some(TlsTrust::CaFile(path.clone())),
        (false, None) => None,
    };
    let mut endpoint = Endpoint::parse(&args.endpoint, trust.as_ref())?;
    endpoint.virtual_host = args.addressing == "virtual";
    let target = Target {
        endpoint,
        access_key_id: args.access_key.clone(),
        secret_access_key: args.secret_key.clone(),
        region: args.region.clone(),
        bucket: args.bucket.clone(),
    };
    let spec = LoadSpec {
        op,
        size: args.size,
        concurrency: args.concurrency,
        threads: args.threads,
        duration: args.duration,
        objects: args.objects,
        put_ratio: args.put_ratio,
        payload: args.payload,
        delimiter: args.delimiter.clone(),
        delete_batch_keys: args.batch,
        part_size_bytes: args.part_size,
        part_parallel: args.part_parallel,
        reuse_prepared: args.reuse_prepared,
    };
    let report = workload::run(&target, &spec, args.server_pid)?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_human());
    }
    Ok(if report.stats.error_count() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_ceiling(args: &CeilingArgs) -> ExitCode {
    let spec = CeilingSpec {
        hash_bytes: args.total,
        data_dir: args.data_dir.clone(),
        disk_bytes: args.disk_bytes,
        tcp_bytes: args.tcp_bytes,
        commits: args.commits,
    };
    let report = match bench::ceiling::measure(&spec) {
        Ok(report) => report,
        Err(message) => {
            eprintln!("maxiofs-bench: {message}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_human());
    }
    ExitCode::SUCCESS
}
