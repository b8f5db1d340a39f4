//! The `maxiofs` command line. Parsing and dispatch only; the server is wired
//! in `server.rs`, the control plane in `control.rs`, the offline integrity
//! check in `check.rs`.
#![forbid(unsafe_code)]

mod admin_cli;
mod check;
mod config;
mod master_key;
mod progress;
mod reload;
mod server;
mod systemd;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use s3::ops::sosapi;

/// maxiofs: a high-throughput S3-compatible object store.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Log line format on stderr: `pretty` (human-readable) or `json` (one
    /// object per line, for log shippers). Every line of an S3 request carries
    /// its request id (`x-amz-request-id`).
    #[arg(long, global = true, env = "MAXIOFS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    log_format: LogFormat,
    /// Configuration file (TOML, settings named as the server's flags with `_`
    /// for `-`). Default: /etc/maxiofs/maxiofs.toml when it exists. Flags win
    /// over environment variables, which win over the file.
    #[arg(long, global = true, env = "MAXIOFS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the S3 server.
    Server(Box<ServerArgs>),
    /// The configuration: `check` validates the file, environment and flags
    /// and prints the effective server settings with secrets masked.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Verify a stopped server's data directory: every object and multipart part is
    /// read back and checked (checksums, sizes, segment files). Changes nothing unless
    /// --repair is given. Exit status: 0 clean (or fully repaired), 1 problems found,
    /// 2 the check could not run.
    Check(CheckArgs),
    /// Administration: identities on a running server (user, key, group, policy, role)
    /// and tasks on a stopped server's data directory (rotate-key).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Validate and print the settings `maxiofs server` would run with (taking
    /// the same flags); exit status 2 when they are invalid.
    Check(Box<ServerArgs>),
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum LogFormat {
    Pretty,
    Json,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Make a fresh master key current. Earlier keys stay in the key file so older
    /// objects stay readable; on its next start the server re-wraps their data keys
    /// under the new key in the background and logs "re-wrap complete" for the
    /// objects. Keep the earlier keys in the file: secrets sealed in the catalog
    /// (users' access keys, TOTP, alert and provider secrets) still need them.
    /// The server must be stopped.
    RotateKey(KeyArgs),
    /// IAM users, their inline and attached policies and group memberships, on a
    /// running server (through its IAM API).
    User(Box<admin_cli::UserArgs>),
    /// Access keys of IAM users on a running server.
    Key(Box<admin_cli::KeyArgs>),
    /// IAM groups, their members and policies, on a running server.
    Group(Box<admin_cli::GroupArgs>),
    /// Managed policies and their versions on a running server.
    Policy(Box<admin_cli::PolicyArgs>),
    /// IAM roles, their trust and permission policies, on a running server.
    Role(Box<admin_cli::RoleArgs>),
    /// Tenants, their quotas and bandwidth limits, on a running server (through its
    /// admin API on the console port).
    Tenant(Box<admin_cli::TenantArgs>),
    /// A bucket's quota and usage on a running server (through its admin API).
    Quota(Box<admin_cli::QuotaArgs>),
    /// What each tenant stores and its traffic per day, on a running server
    /// (through its admin API).
    Usage(Box<admin_cli::UsageArgs>),
    /// A running server's audit log (through its admin API).
    Audit(Box<admin_cli::AuditArgs>),
    /// Maintenance mode of a running server: S3 writes paused (503 with
    /// Retry-After), reads served (through its admin API).
    Maintenance(Box<admin_cli::MaintenanceArgs>),
    /// A tenant's SSE-KMS keys in the built-in key store: create, rotate,
    /// enable, disable (through its admin API).
    KmsKey(Box<admin_cli::KmsKeyArgs>),
}

#[derive(clap::Args, Debug, Clone)]
pub struct KeyArgs {
    /// Data directory whose master key is rotated.
    #[arg(long, env = "MAXIOFS_DATA_DIR", default_value = "./maxiofs-data")]
    pub data_dir: PathBuf,

    /// The master key file (default: `maxiofs-master.key` beside the data directory).
    #[arg(long, env = "MAXIOFS_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct CheckArgs {
    /// Data directory to check (the server must be stopped: the check takes its lock).
    #[arg(long, env = "MAXIOFS_DATA_DIR", default_value = "./maxiofs-data")]
    pub data_dir: PathBuf,

    /// Drop the index entries whose data is damaged or missing (objects are deleted,
    /// multipart uploads aborted) and list what was lost. Segment space no entry
    /// references is left for the compactor.
    #[arg(long)]
    pub repair: bool,

    /// The master key file, to verify encrypted chunks' authentication tags too
    /// (default: `maxiofs-master.key` beside the data directory, if present;
    /// MAXIOFS_MASTER_KEY also works). Without a key only checksums are verified.
    #[arg(long, env = "MAXIOFS_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Data directory (created if missing). Holds segments, indexes and the catalog.
    #[arg(long, env = "MAXIOFS_DATA_DIR", default_value = "./maxiofs-data")]
    pub data_dir: PathBuf,

    /// Address the S3 API listens on (every shard binds it with SO_REUSEPORT).
    #[arg(long, env = "MAXIOFS_LISTEN", default_value = "0.0.0.0:9000")]
    pub listen: SocketAddr,

    /// Address the console and the JSON admin API (`/api/v1`) listen on, served by
    /// the control plane. TLS like the S3 port when --tls-cert is given. `off`
    /// disables the listener.
    #[arg(long, env = "MAXIOFS_CONSOLE_LISTEN", default_value = "0.0.0.0:9001")]
    pub console_listen: String,

    /// Bearer token a scrape of `/metrics` on the console port must bring
    /// (`Authorization: Bearer <token>`); without one the endpoint is open to
    /// whoever reaches the console port. Prefer the environment variable: a
    /// command line is readable by every local user.
    #[arg(long, env = "MAXIOFS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Per-bucket series on `/metrics` (usage by bucket and tenant); off by
    /// default because their number grows with the buckets.
    #[arg(long, env = "MAXIOFS_METRICS_PER_BUCKET")]
    pub metrics_per_bucket: bool,

    /// Days the audit log keeps its entries (older ones are deleted hourly).
    #[arg(long, env = "MAXIOFS_AUDIT_RETENTION_DAYS", default_value_t = 90,
        value_parser = clap::value_parser!(u64).range(1..=36_500))]
    pub audit_retention_days: u64,

    /// Number of data shards (one reactor thread each). Default: the number
    /// recorded in the data directory, else one per online core. A data
    /// directory cannot be opened with a different count.
    #[arg(long, env = "MAXIOFS_SHARDS")]
    pub shards: Option<u16>,

    /// Root access key id. With neither key given, the first start generates
    /// a pair, stores it in the catalog and prints it once.
    #[arg(long, env = "MAXIOFS_ROOT_ACCESS_KEY", hide_env_values = true)]
    pub root_access_key: Option<String>,

    /// File whose first line is the root secret access key. The secret is taken from
    /// here or from the environment variable MAXIOFS_ROOT_SECRET_KEY, never from the
    /// command line, where /proc/*/cmdline shows it to every local user. Never logged;
    /// stored sealed by the master key.
    #[arg(long, env = "MAXIOFS_ROOT_SECRET_KEY_FILE")]
    pub root_secret_key_file: Option<PathBuf>,

    /// Refused: a secret on the command line is visible to every local user.
    #[arg(long = "root-secret-key", hide = true)]
    pub root_secret_key_on_command_line: Option<String>,

    /// Accept AWS Signature Version 2 (header and presigned URLs), which older tools
    /// such as s3cmd with `signature_v2` use. `off` answers every SigV2 request with
    /// InvalidRequest, as AWS regions that only take SigV4 do.
    #[arg(long, env = "MAXIOFS_SIGV2", default_value = "on", value_parser = ["on", "off"])]
    pub sigv2: String,

    /// Reverse proxies that terminate TLS in front of the S3 port, comma separated
    /// addresses or networks (`10.0.0.0/8,192.0.2.7`): from them, `X-Forwarded-Proto:
    /// https` makes a request count as secure (SSE-C keys, `aws:SecureTransport`).
    /// From any other peer the header is ignored.
    #[arg(long, env = "MAXIOFS_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// Accept SSE-C keys over plain HTTP (labs only: the key then crosses the
    /// network in clear). Off by default; a warning is logged at start when on.
    #[arg(long, env = "MAXIOFS_SSE_C_ALLOW_PLAIN_HTTP")]
    pub sse_c_allow_plain_http: bool,

    /// Region reported to clients (GetBucketLocation, x-amz-bucket-region).
    #[arg(long, env = "MAXIOFS_REGION", default_value = "us-east-1")]
    pub region: String,

    /// PEM certificate chain: with --tls-key, the S3 port speaks HTTPS.
    #[arg(long, env = "MAXIOFS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, RSA or EC) for --tls-cert.
    #[arg(long, env = "MAXIOFS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Encrypt new objects at rest (SSE-S3, AES-256, as AWS does by default). `off` is for
    /// disks already encrypted below us; objects written encrypted stay readable either way.
    #[arg(long, env = "MAXIOFS_ENCRYPTION", default_value = "on", value_parser = ["on", "off"])]
    pub encryption: String,

    /// File holding the master key (base64 of 32 bytes, mode 0600, outside the data
    /// directory). Default: `maxiofs-master.key` beside the data directory, generated at
    /// the first start with encryption on. MAXIOFS_MASTER_KEY (base64) takes precedence.
    #[arg(long, env = "MAXIOFS_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,

    /// Background scrub rate in MiB/s: every stored chunk is read back and verified
    /// this fast at most, so damage is found before a client needs the data. 0 turns
    /// the scrubber off.
    #[arg(long, env = "MAXIOFS_SCRUB_RATE_MIB", default_value_t = 16)]
    pub scrub_rate_mib: u64,

    /// Seconds from the start of one scrub pass to the start of the next (a pass
    /// longer than this is followed by the next at once).
    #[arg(long, env = "MAXIOFS_SCRUB_INTERVAL_S", default_value_t = 86_400)]
    pub scrub_interval_s: u64,

    /// Size of a segment file in MiB (preallocated when a shard starts one). Smaller
    /// segments are compacted sooner and in smaller steps; larger ones roll over less.
    #[arg(long, env = "MAXIOFS_SEGMENT_MIB", default_value_t = engine::limits::SEGMENT_BYTES >> 20,
        value_parser = clap::value_parser!(u64).range(4..=4096))]
    pub segment_mib: u64,

    /// Compaction rate in MiB/s: records still referenced in mostly dead segments
    /// are moved this fast at most, so the segments' space can be returned to the
    /// filesystem. 0 turns compaction off (deleted data then keeps its space).
    #[arg(long, env = "MAXIOFS_COMPACT_RATE_MIB", default_value_t = 64)]
    pub compact_rate_mib: u64,

    /// A sealed segment is compacted once its live (still referenced) bytes are at
    /// most this percentage of the segment.
    #[arg(long, env = "MAXIOFS_COMPACT_LIVE_PERCENT", default_value_t = 50,
        value_parser = clap::value_parser!(u8).range(1..=99))]
    pub compact_live_percent: u8,

    /// Seconds without writes after which a shard's mostly dead active segment is
    /// sealed, so it can be compacted too.
    #[arg(long, env = "MAXIOFS_COMPACT_SEAL_IDLE_S", default_value_t = 60)]
    pub compact_seal_idle_s: u64,

    /// Seconds between compaction checks when there was nothing to compact.
    #[arg(long, env = "MAXIOFS_COMPACT_INTERVAL_S", default_value_t = 10)]
    pub compact_interval_s: u64,

    /// MiB of free disk space client writes leave untouched (they fail with
    /// InsufficientStorage below it), so deletes and compaction work on a full
    /// disk. Default: one segment plus 64 MiB for the index. At most 5% of the
    /// filesystem or one segment (whichever is larger) is kept back, whatever this
    /// says, so a small disk stays usable.
    #[arg(long, env = "MAXIOFS_RESERVE_MIB", default_value_t = engine::limits::DISK_RESERVE_BYTES >> 20)]
    pub reserve_mib: u64,

    /// Veeam SOSAPI recommendation `S3ConcurrentTaskLimit`: S3 requests Veeam runs in
    /// parallel within one repository task slot.
    #[arg(long, env = "MAXIOFS_SOSAPI_CONCURRENT_TASKS",
        default_value_t = sosapi::S3_CONCURRENT_TASKS_DEFAULT,
        value_parser = clap::value_parser!(u32).range(1..))]
    pub sosapi_concurrent_tasks: u32,

    /// Veeam SOSAPI recommendation `StorageConcurrentTasksLimit`: repository task slots
    /// writing to this server in parallel. 0 is unlimited (every slot the repository has).
    #[arg(long, env = "MAXIOFS_SOSAPI_STORAGE_TASKS",
        default_value_t = sosapi::STORAGE_CONCURRENT_TASKS_DEFAULT)]
    pub sosapi_storage_tasks: u32,

    /// Veeam SOSAPI recommendation `KbBlockSize`: the block size (KiB, before compression)
    /// of new Veeam jobs. Each block is one object. One of 256, 512, 1024, 4096, 8192.
    #[arg(long, env = "MAXIOFS_SOSAPI_BLOCK_KIB",
        default_value_t = sosapi::BLOCK_KIB_DEFAULT, value_parser = parse_sosapi_block_kib)]
    pub sosapi_block_kib: u32,

    /// Seconds in a lifecycle "day": rules say "expire after N days". Only tests
    /// shorten it (to see expirations within seconds).
    #[arg(long, env = "MAXIOFS_LIFECYCLE_DAY_S", default_value_t = 86_400,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub lifecycle_day_s: u64,

    /// Seconds between lifecycle passes over each shard's buckets.
    #[arg(long, env = "MAXIOFS_LIFECYCLE_INTERVAL_S", default_value_t = 3_600,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub lifecycle_interval_s: u64,

    /// Open connections one client address (IPv6: one /64) may hold on the whole
    /// server; beyond it a new connection is closed at once. Each shard counts its own
    /// connections, so this is split evenly over the shards (rounded up). Default: a
    /// quarter of each shard's connection limit, 1024 per shard.
    #[arg(long, env = "MAXIOFS_CONNECTIONS_PER_CLIENT_MAX",
        value_parser = clap::value_parser!(u32).range(1..))]
    pub connections_per_client_max: Option<u32>,

    /// Domains for virtual-host-style requests (`bucket.<domain>`), comma separated.
    #[arg(
        long,
        env = "MAXIOFS_DOMAINS",
        value_delimiter = ',',
        default_value = "localhost"
    )]
    pub domains: Vec<String>,

    /// File the S3 access log is appended to, one line per request in AWS's
    /// server access log format (created 0600). Rotate it by renaming it and
    /// sending SIGHUP: the server reopens the path within a second.
    #[arg(long, env = "MAXIOFS_ACCESS_LOG")]
    pub access_log: Option<PathBuf>,

    /// Where the audit log and the access log are forwarded, comma separated:
    /// `syslog+udp://host[:514]`, `syslog+tcp://host[:514]`,
    /// `syslog+tls://host[:6514]` (RFC 5424) or `http(s)://host/path` (NDJSON
    /// POSTs). Each target has a durable queue in the data directory, so an
    /// outage of the target loses nothing.
    #[arg(long, env = "MAXIOFS_LOG_FORWARD", value_delimiter = ',')]
    pub log_forward: Vec<String>,

    /// Which logs are forwarded: `audit`, `access`, or both (comma separated).
    #[arg(long, env = "MAXIOFS_LOG_FORWARD_LOGS", value_delimiter = ',',
        default_value = "audit,access", value_parser = ["audit", "access"])]
    pub log_forward_logs: Vec<String>,

    /// PEM file of the CA that signed the forwarding targets' TLS certificates
    /// (default: the system's trusted roots).
    #[arg(long, env = "MAXIOFS_LOG_FORWARD_CA")]
    pub log_forward_ca: Option<PathBuf>,

    /// Bytes (in MiB) each forwarding target's queue may hold while the target
    /// is unreachable; beyond it new records for that target are dropped and
    /// counted.
    #[arg(long, env = "MAXIOFS_LOG_FORWARD_QUEUE_MIB", default_value_t = 1024,
        value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub log_forward_queue_mib: u64,

    /// Bytes (in MiB) each bucket event notification target's queue may hold
    /// while the target is unreachable; beyond it, writes to buckets that
    /// notify that target are refused with 503 SlowDown (never an event lost).
    #[arg(long, env = "MAXIOFS_NOTIFICATION_QUEUE_MIB", default_value_t = 1024,
        value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub notification_queue_mib: u64,

    /// Seconds between two checks of the alert conditions (disk nearly full,
    /// shard failing, scrub damage, tenant near quota, certificate expiry).
    #[arg(long, env = "MAXIOFS_ALERT_INTERVAL_S", default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub alert_interval_s: u64,
}

/// Veeam accepts only its own job block sizes; anything else is refused at startup.
fn parse_sosapi_block_kib(value: &str) -> Result<u32, String> {
    let allowed = sosapi::BLOCK_KIB_ALLOWED;
    let allowed_list = allowed.map(|kib| kib.to_string()).join(", ");
    match value.trim().parse::<u32>() {
        Ok(kib) if allowed.contains(&kib) => Ok(kib),
        _ => Err(format!(
            "Veeam accepts only these block sizes (KiB): {allowed_list}"
        )),
    }
}

const ENV_ROOT_SECRET_KEY: &str = "MAXIOFS_ROOT_SECRET_KEY";

/// The root secret the operator gave, from the environment or a file; never
/// from the command line.
pub(crate) fn root_secret_key(args: &ServerArgs) -> Result<Option<String>, String> {
    if args.root_secret_key_on_command_line.is_some() {
        return Err(format!(
            "--root-secret-key is not accepted (the command line is visible to every local \
             user): set {ENV_ROOT_SECRET_KEY} or use --root-secret-key-file"
        ));
    }
    let from_env = std::env::var(ENV_ROOT_SECRET_KEY).ok();
    let from_file = match &args.root_secret_key_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|err| format!("{}: {err}", path.display()))?;
            let secret = text.lines().next().unwrap_or("").trim().to_owned();
            if secret.is_empty() {
                return Err(format!("{} holds no secret", path.display()));
            }
            Some(secret)
        }
    };
    match (from_env, from_file) {
        (Some(_), Some(_)) => Err(format!(
            "the root secret is given twice ({ENV_ROOT_SECRET_KEY} and --root-secret-key-file)"
        )),
        (from_env, from_file) => Ok(from_env.or(from_file)),
    }
}

/// The server's settings that have an environment variable: (setting,
/// variable), what the configuration file may set.
fn server_setting_envs() -> impl Iterator<Item = (String, String)> {
    let command = Cli::command();
    let server = command
        .find_subcommand("server")
        .expect("the server subcommand exists");
    let settings: Vec<(String, String)> = server
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_string_lossy().into_owned();
            Some((arg.get_id().to_string(), env))
        })
        .filter(|(id, _)| id != "config")
        .collect();
    settings.into_iter()
}

/// The server settings the command line of this process gave (a reload
/// leaves them as they are).
pub(crate) fn command_line_settings() -> std::collections::BTreeSet<String> {
    use clap::parser::ValueSource;
    let Ok(matches) = Cli::command().try_get_matches_from(std::env::args_os()) else {
        return Default::default();
    };
    let Some(server) = matches.subcommand_matches("server") else {
        return Default::default();
    };
    server
        .ids()
        .filter(|id| server.value_source(id.as_str()) == Some(ValueSource::CommandLine))
        .map(|id| id.to_string())
        .collect()
}

/// A numeric server setting's value from `text` (or its default when
/// `None`), checked by the same rules as at start; `Ok(None)` when it has no
/// default.
pub(crate) fn server_setting_value(key: &str, text: Option<&str>) -> Result<Option<u64>, String> {
    let flag = format!("--{}", key.replace('_', "-"));
    let mut argv = vec!["maxiofs".to_owned(), "server".to_owned()];
    if let Some(text) = text {
        argv.push(format!("{flag}={text}"));
    }
    let command = Cli::command();
    let matches = match text {
        Some(_) => command.try_get_matches_from(&argv),
        // The default, unaffected by the variable the file set at start.
        None => {
            let server = command
                .find_subcommand("server")
                .expect("the server subcommand exists");
            let arg = server.get_arguments().find(|arg| arg.get_id() == key);
            let default = arg.and_then(|arg| arg.get_default_values().first());
            let Some(default) = default else {
                return Ok(None);
            };
            argv.push(format!("{flag}={}", default.to_string_lossy()));
            Cli::command().try_get_matches_from(&argv)
        }
    }
    .map_err(|err| {
        err.to_string()
            .lines()
            .next()
            .unwrap_or("invalid")
            .to_owned()
    })?;
    let server = matches
        .subcommand_matches("server")
        .ok_or("no server settings")?;
    if let Ok(Some(value)) = server.try_get_one::<u64>(key) {
        return Ok(Some(*value));
    }
    if let Ok(Some(value)) = server.try_get_one::<u32>(key) {
        return Ok(Some(u64::from(*value)));
    }
    Err(format!("{key} is not a numeric setting"))
}

/// `maxiofs config check`: the effective settings, one per line as TOML,
/// each with where it came from; secrets masked. Clap has already refused
/// invalid values (exit status 2).
fn config_check(applied: &config::Applied) -> i32 {
    use clap::parser::ValueSource;
    let matches = Cli::command().get_matches();
    let Some(("config", config)) = matches.subcommand() else {
        return 2;
    };
    let Some(("check", check)) = config.subcommand() else {
        return 2;
    };
    use std::fmt::Write as _;
    let mut out = String::new();
    match &applied.path {
        Some(path) => writeln!(out, "# configuration file: {}", path.display()),
        None => writeln!(out, "# no configuration file"),
    }
    .expect("writing to a String");
    let command = Cli::command();
    let server = command
        .find_subcommand("server")
        .expect("the server subcommand exists");
    for arg in server.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.is_hide_set() || id == "config" || id == "help" || id == "version" {
            continue;
        }
        let Some(values) = check.get_raw(id) else {
            let _ = writeln!(out, "# {id} is not set");
            continue;
        };
        let value: Vec<String> = values.map(|v| v.to_string_lossy().into_owned()).collect();
        let env = arg.get_env().map(|env| env.to_string_lossy().into_owned());
        let source = match check.value_source(id) {
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::EnvVariable)
                if env
                    .as_ref()
                    .is_some_and(|env| applied.settings.contains_key(env)) =>
            {
                "file"
            }
            Some(ValueSource::EnvVariable) => "environment",
            _ => "default",
        };
        let shown = if config::is_secret(id) {
            "\"********\"".to_owned()
        } else {
            format!("{:?}", value.join(","))
        };
        let _ = writeln!(out, "{id} = {shown}  # {source}");
    }
    // A closed pipe (`| head`) is not an error.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
    0
}

/// Replaces the log filter of the running process (SIGHUP re-reads it).
pub(crate) type LogFilterReload = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;
pub(crate) static LOG_FILTER_RELOAD: std::sync::OnceLock<LogFilterReload> =
    std::sync::OnceLock::new();

/// The filter the logs start with: `MAXIOFS_LOG` (the configuration
/// file's `log` lands there too), else `info`.
pub(crate) fn log_filter_text() -> String {
    std::env::var("MAXIOFS_LOG").unwrap_or_else(|_| "info".to_owned())
}

fn init_logs(format: LogFormat) {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{fmt, reload, EnvFilter};
    let filter = EnvFilter::try_new(log_filter_text()).unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    // Colours only on a terminal: a journal or log file would keep the escape
    // codes, and every request's span would pay for writing them.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let lines = match format {
        LogFormat::Pretty => fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => fmt::layer().json().with_writer(std::io::stderr).boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .init();
    let _ = LOG_FILTER_RELOAD.set(Box::new(move |text: &str| {
        let filter = EnvFilter::try_new(text).map_err(|err| err.to_string())?;
        handle.reload(filter).map_err(|err| err.to_string())
    }));
}

fn main() {
    // Owner-only modes for every file and directory this process creates.
    engine::io::modes::restrict_new_file_modes();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let applied = match config::apply(&argv, server_setting_envs()) {
        Ok(applied) => applied,
        Err(err) => {
            eprintln!("maxiofs: configuration: {err}");
            std::process::exit(2);
        }
    };
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let code = match cli.command {
        Command::Server(args) => match server::run(*args, &applied) {
            Ok(()) => 0,
            Err(err) => {
                eprintln!("maxiofs: {err}");
                1
            }
        },
        Command::Admin(AdminCommand::RotateKey(args)) => match check::rotate_key(&args) {
            Ok(()) => 0,
            Err(err) => {
                eprintln!("maxiofs admin rotate-key: {err}");
                1
            }
        },
        Command::Admin(AdminCommand::User(args)) => admin_cli::run_user(*args),
        Command::Admin(AdminCommand::Key(args)) => admin_cli::run_key(*args),
        Command::Admin(AdminCommand::Group(args)) => admin_cli::run_group(*args),
        Command::Admin(AdminCommand::Policy(args)) => admin_cli::run_policy(*args),
        Command::Admin(AdminCommand::Role(args)) => admin_cli::run_role(*args),
        Command::Admin(AdminCommand::Tenant(args)) => admin_cli::run_tenant(*args),
        Command::Admin(AdminCommand::Quota(args)) => admin_cli::run_quota(*args),
        Command::Admin(AdminCommand::Usage(args)) => admin_cli::run_usage(*args),
        Command::Admin(AdminCommand::Audit(args)) => admin_cli::run_audit(*args),
        Command::Admin(AdminCommand::Maintenance(args)) => admin_cli::run_maintenance(*args),
        Command::Admin(AdminCommand::KmsKey(args)) => admin_cli::run_kms_key(*args),
        Command::Config(ConfigCommand::Check(_)) => config_check(&applied),
        Command::Check(args) => match check::run(&args) {
            Ok(check::Verdict::Clean) => 0,
            Ok(check::Verdict::ProblemsFound) => 1,
            Err(err) => {
                eprintln!("maxiofs check: {err}");
                2
            }
        },
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sosapi_block_kib_accepts_only_veeam_sizes() {
        assert_eq!(parse_sosapi_block_kib("1024"), Ok(1024));
        assert_eq!(parse_sosapi_block_kib("8192"), Ok(8192));
        for refused in ["0", "2048", "4095", "16384", "4 MiB", ""] {
            assert!(parse_sosapi_block_kib(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn sosapi_flags_default_to_the_documented_values() {
        let cli = Cli::try_parse_from(["maxiofs", "server"]).expect("defaults parse");
        let Command::Server(args) = cli.command else {
            panic!("not the server command");
        };
        assert_eq!(args.sosapi_concurrent_tasks, 64);
        assert_eq!(args.sosapi_storage_tasks, 0);
        assert_eq!(args.sosapi_block_kib, 4096);
        assert!(Cli::try_parse_from(["maxiofs", "server", "--sosapi-block-kib", "2048"]).is_err());
        assert!(
            Cli::try_parse_from(["maxiofs", "server", "--sosapi-concurrent-tasks", "0"]).is_err()
        );
    }
}
