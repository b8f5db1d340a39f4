//! Wiring of one server process: lock the data directory, open the catalog
//! and the shard indexes, start the control-plane thread and one pinned
//! reactor thread per shard, and stop them all gracefully on SIGINT/SIGTERM.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use cluster::{generate_root_credentials, Catalog};
use engine::compact::CompactionConfig;
use engine::crypto::MasterKey;
use engine::index::{Index, IndexOp};
use engine::io::uring::UringDisk;
use engine::pins::ReadPins;
use engine::reader::ObjectReader;
use engine::scrub::{ScrubConfig, Scrubber};
use engine::store::{index_dir, ShardStore, StoreConfig};
use s3::ops::sosapi::SosapiSettings;
use s3::shard::{CatalogSnapshot, ControlRequest, S3Settings, Shard, ShardRequest};
use s3::sse::EncryptionSettings;

use crate::ServerArgs;
use cluster::control::identities::IdentityCache;
use cluster::control::{ensure_default_account, load_snapshot, now_ms, ControlPlane};

/// Queue depth of each shard's inbox: enough for every connection of every
/// other shard to have a chunk or commit waiting, small enough to push back.
const SHARD_INBOX_REQUESTS_MAX: usize = 1024;
/// Bucket creations/deletions waiting for the control plane.
const CONTROL_INBOX_REQUESTS_MAX: usize = 256;
pub(crate) const SETTING_SHARD_COUNT: &str = "shard_count";
const LOCK_FILE: &str = "LOCK";
/// How often freed heap memory is returned to the system: often enough that a
/// flood's peak does not linger, rare enough to cost nothing (a trim walks the
/// allocator's arenas in well under a millisecond when little is free).
const MEMORY_TRIM_INTERVAL_MS: u64 = 10_000;

type StartResult = Result<(), String>;

struct Runtime {
    shard_threads: Vec<JoinHandle<()>>,
    control_thread: JoinHandle<()>,
    shutdowns: Vec<http::ShutdownTrigger>,
    control_tx: async_channel::Sender<ControlRequest>,
    /// One per shard unless scrubbing is off; dropped (stopped) first on shutdown.
    scrubbers: Vec<Scrubber>,
    /// The access log's writer (`--access-log` or forwarding of it).
    access_log: Option<cluster::access_log::AccessLogWriter>,
    /// Log forwarding (`--log-forward`).
    log_forward: Option<Arc<cluster::ship::Shipper>>,
    /// What a SIGHUP changes.
    reloadable: crate::reload::Reloadable,
}

pub fn run(args: ServerArgs, config: &crate::config::Applied) -> Result<(), String> {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|err| format!("cannot create {}: {err}", args.data_dir.display()))?;
    tighten_data_dir_modes(&args.data_dir)?;
    raise_open_files_limit();
    let _lock = lock_data_dir(&args.data_dir)?;
    let catalog = Catalog::open(&args.data_dir).map_err(|err| err.to_string())?;
    let shard_count = resolve_shard_count(&catalog, args.shards)?;
    let master = crate::master_key::load(&args, &catalog)?;
    let generated = ensure_root_credentials(&catalog, &args, &master)?;
    seal_stored_secrets(&catalog, &master)?;
    let indexes = open_indexes(&args.data_dir, shard_count)?;
    reconcile_buckets(&catalog, &indexes)?;
    let no_compaction = shards_that_must_not_compact(&catalog, &indexes)?;
    let default_account = ensure_default_account(&catalog).map_err(|err| err.to_string())?;
    cluster::control::kms::ensure_default_keys(&catalog, &master, &args.region, now_ms())
        .map_err(|err| err.to_string())?;
    let mut identity_cache = IdentityCache::default();
    let snapshot = load_snapshot(&catalog, 1, &master, &mut identity_cache, &default_account)
        .map_err(|err| err.to_string())?;
    let snapshot = Arc::new(snapshot);
    let tls = load_tls(&args)?;
    if transport_settings(&args)?.sse_c_allow_plain_http {
        tracing::warn!(
            "--sse-c-allow-plain-http is on: SSE-C keys are accepted over plain HTTP, where \
             anyone on the network path can read them; use it in labs only"
        );
    }
    let encryption = EncryptionSettings {
        master: Some(master),
        encrypt_new_objects: args.encryption == "on",
    };
    let runtime = start(
        args.clone(),
        (catalog, default_account, identity_cache),
        indexes,
        snapshot,
        (tls, encryption, no_compaction),
    )?;
    announce(&args, shard_count, generated.as_ref());
    crate::systemd::notify("READY=1\nSTATUS=serving S3\n");
    wait_for_signal(config, &runtime)?;
    crate::systemd::notify("STOPPING=1\n");
    tracing::info!("shutting down: finishing in-flight requests");
    stop(runtime);
    tracing::info!("stopped");
    Ok(())
}

/// `--trusted-proxies` and `--sse-c-allow-plain-http`, checked.
fn transport_settings(args: &ServerArgs) -> Result<s3::transport::TransportSettings, String> {
    let trusted_proxies = args
        .trusted_proxies
        .iter()
        .filter(|text| !text.trim().is_empty())
        .map(|text| s3::transport::IpRange::parse(text))
        .collect::<Result<Vec<_>, String>>()
        .map_err(|err| format!("--trusted-proxies: {err}"))?;
    Ok(s3::transport::TransportSettings {
        trusted_proxies,
        sse_c_allow_plain_http: args.sse_c_allow_plain_http,
    })
}

fn load_tls(args: &ServerArgs) -> Result<Option<http::TlsConfig>, String> {
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => http::TlsConfig::from_pem_files(cert, key)
            .map(Some)
            .map_err(|err| format!("TLS certificate or key: {err}")),
        _ => Ok(None),
    }
}

pub(crate) fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File, String> {
    let path = data_dir.join(LOCK_FILE);
    let file = std::fs::File::create(&path).map_err(|err| format!("{}: {err}", path.display()))?;
    file.try_lock().map_err(|_| {
        format!(
            "{} is in use by another maxiofs process",
            data_dir.display()
        )
    })?;
    Ok(file)
}

/// The shard count is part of the data directory: `shard_for` decides where
/// every bucket lives, so a different count would lose buckets.
fn resolve_shard_count(catalog: &Catalog, requested: Option<u16>) -> Result<u16, String> {
    let recorded = catalog
        .setting(SETTING_SHARD_COUNT)
        .map_err(|err| err.to_string())?;
    let recorded: Option<u16> = recorded.and_then(|value| value.parse().ok());
    let online = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as u16;
    match (recorded, requested) {
        (Some(recorded), Some(requested)) if recorded != requested => Err(format!(
            "this data directory was created with --shards {recorded}; it cannot be opened \
             with --shards {requested} (resharding is not supported yet)"
        )),
        (Some(recorded), _) => Ok(recorded),
        (None, requested) => {
            let count = requested.unwrap_or(online).max(1);
            catalog
                .set_setting(SETTING_SHARD_COUNT, &count.to_string())
                .map_err(|err| err.to_string())?;
            Ok(count)
        }
    }
}

/// Every connection slot is a file descriptor: take the hard limit, and say
/// so when even that cannot hold the slots.
fn raise_open_files_limit() {
    match engine::io::process::raise_open_files_limit() {
        Ok(limit) if limit < 8192 => tracing::warn!(
            limit,
            "the open-file limit is low for a server: raise it (LimitNOFILE) so connections \
             are not refused early"
        ),
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(err) => tracing::warn!(%err, "could not read or raise the open-file limit"),
    }
}

/// Directories 0700 and files 0600 under the data directory: an older build
/// (or a copy) may have left them readable by every local user.
fn tighten_data_dir_modes(data_dir: &Path) -> Result<(), String> {
    let changed = engine::io::modes::tighten_modes(data_dir)
        .map_err(|err| format!("{}: {err}", data_dir.display()))?;
    if changed > 0 {
        tracing::warn!(
            changed,
            data_dir = %data_dir.display(),
            "tightened looser file modes in the data directory to owner-only (0700/0600)"
        );
    }
    Ok(())
}

/// Root keys from the environment (or the secret's file) win; otherwise the
/// stored ones; otherwise a new pair is generated, stored, and returned so it
/// can be printed once. Secrets are stored sealed by the master key.
fn ensure_root_credentials(
    catalog: &Catalog,
    args: &ServerArgs,
    master: &MasterKey,
) -> Result<Option<cluster::RootCredentials>, String> {
    let secret_given = crate::root_secret_key(args)?;
    let given = match (&args.root_access_key, secret_given) {
        (Some(access_key), Some(secret_key)) => Some((access_key.clone(), secret_key)),
        (None, None) => None,
        _ => {
            return Err("give both MAXIOFS_ROOT_ACCESS_KEY and the root secret \
                (MAXIOFS_ROOT_SECRET_KEY or --root-secret-key-file)"
                .into())
        }
    };
    if let Some((access_key, secret_key)) = given {
        let sealed = master.seal_text(secret_key.as_bytes());
        catalog
            .upsert_access_key(&access_key, &sealed, "root", now_ms())
            .map_err(|err| err.to_string())?;
        return Ok(None);
    }
    if !catalog
        .access_keys()
        .map_err(|err| err.to_string())?
        .is_empty()
    {
        return Ok(None);
    }
    let creds = generate_root_credentials();
    let sealed = master.seal_text(creds.secret_key.as_bytes());
    catalog
        .upsert_access_key(&creds.access_key, &sealed, "root", now_ms())
        .map_err(|err| err.to_string())?;
    Ok(Some(creds))
}

/// Seals every stored secret that is not sealed by the current master key:
/// plaintext left by builds before sealing, and secrets sealed by a key the
/// ring has since rotated past (so the earlier key can be retired).
fn seal_stored_secrets(catalog: &Catalog, master: &MasterKey) -> Result<(), String> {
    let mut resealed = 0;
    for (access_key, stored) in catalog.access_keys().map_err(|err| err.to_string())? {
        let plain = match engine::crypto::sealed_text_key_id(&stored) {
            Some(key_id) if key_id == master.id() => continue,
            Some(_) => cluster::control::open_secret(master, &access_key, &stored)?,
            None => stored,
        };
        catalog
            .replace_access_key_secret(&access_key, &master.seal_text(plain.as_bytes()))
            .map_err(|err| err.to_string())?;
        resealed += 1;
    }
    if resealed > 0 {
        tracing::info!(
            resealed,
            master_key = master.id(),
            "sealed stored access key secrets with the current master key"
        );
    }
    let kms_versions = cluster::control::kms::reseal_keys(catalog, master)?;
    let provider_secrets = cluster::federation::providers::reseal_secrets(catalog, master)?;
    let target_secrets =
        cluster::notify::targets::reseal_secrets(catalog, master).map_err(|err| err.to_string())?;
    if kms_versions + provider_secrets + target_secrets > 0 {
        tracing::info!(
            kms_versions,
            provider_secrets,
            target_secrets,
            master_key = master.id(),
            "sealed KMS key material, identity provider and notification target secrets with \
             the current master key"
        );
    }
    Ok(())
}

pub(crate) fn open_indexes(data_dir: &Path, shard_count: u16) -> Result<Vec<Index>, String> {
    (0..shard_count)
        .map(|shard| {
            Index::open_shard(&index_dir(data_dir, shard), shard).map_err(|err| err.to_string())
        })
        .collect()
}

/// Shards whose records another shard's objects list: copies made across
/// shards by builds before space accounting shared records (now they copy
/// the bytes). Such a shard's compactor cannot see those references, so it
/// stays off there. The scan runs until one start finds none, then never.
fn shards_that_must_not_compact(
    catalog: &Catalog,
    indexes: &[Index],
) -> Result<std::collections::BTreeSet<u16>, String> {
    const SETTING_CROSS_SHARD_CHECKED: &str = "cross_shard_refs";
    let checked = catalog
        .setting(SETTING_CROSS_SHARD_CHECKED)
        .map_err(|err| err.to_string())?;
    if checked.as_deref() == Some("none") {
        return Ok(Default::default());
    }
    let mut referenced = std::collections::BTreeSet::new();
    for index in indexes {
        referenced.extend(
            index
                .foreign_shards_referenced()
                .map_err(|err| err.to_string())?,
        );
    }
    if referenced.is_empty() {
        catalog
            .set_setting(SETTING_CROSS_SHARD_CHECKED, "none")
            .map_err(|err| err.to_string())?;
    } else {
        tracing::warn!(shards = ?referenced,
            "objects copied across shards by an older build reference these shards' records; \
             compaction stays off on them");
    }
    Ok(referenced)
}

/// Repairs what a crash in the middle of a bucket creation or deletion left:
/// a catalog row whose bucket the owner's index does not hold live.
fn reconcile_buckets(catalog: &Catalog, indexes: &[Index]) -> Result<(), String> {
    for row in catalog.buckets().map_err(|err| err.to_string())? {
        let index = &indexes[row.owner_shard as usize];
        let state = index.bucket_state(row.id).map_err(|err| err.to_string())?;
        match state {
            Some(state) if !state.dropped => {}
            Some(_) => {
                tracing::warn!(bucket = %row.name, "finishing an interrupted bucket deletion");
                catalog
                    .delete_bucket(&row.name)
                    .map_err(|err| err.to_string())?;
            }
            None => {
                tracing::warn!(bucket = %row.name, "re-creating a bucket missing from its index");
                let op = IndexOp::CreateBucket {
                    bucket_id: row.id,
                    name: row.name.clone(),
                };
                let outcome = index
                    .apply_batch(&[op], &[])
                    .map_err(|err| err.to_string())?;
                outcome
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

fn start(
    args: ServerArgs,
    (catalog, default_account, identity_cache): (Catalog, String, IdentityCache),
    indexes: Vec<Index>,
    snapshot: Arc<CatalogSnapshot>,
    (tls, encryption, no_compaction): (
        Option<http::TlsConfig>,
        EncryptionSettings,
        std::collections::BTreeSet<u16>,
    ),
) -> Result<Runtime, String> {
    let shard_count = indexes.len();
    let (inbox_txs, inbox_rxs): (Vec<_>, Vec<_>) = (0..shard_count)
        .map(|_| async_channel::bounded::<ShardRequest>(SHARD_INBOX_REQUESTS_MAX))
        .unzip();
    let (control_tx, control_rx) = async_channel::bounded(CONTROL_INBOX_REQUESTS_MAX);
    let scrub_stats: Arc<std::sync::OnceLock<Vec<Arc<engine::scrub::ScrubStats>>>> = Arc::default();
    let log_forward = start_log_forwarding(&args)?.map(Arc::new);
    let forwards =
        |log: &str| log_forward.is_some() && args.log_forward_logs.iter().any(|l| l == log);
    let (access_log_tx, access_log) = if args.access_log.is_some() || forwards("access") {
        let forward = log_forward.clone().filter(|_| forwards("access"));
        let (tx, writer) =
            cluster::access_log::AccessLogWriter::start(args.access_log.clone(), forward)?;
        (Some(tx), Some(writer))
    } else {
        (None, None)
    };
    let reloadable = crate::reload::Reloadable {
        lifecycle_interval_s: Arc::new(args.lifecycle_interval_s.into()),
        alert_interval_s: Arc::new(args.alert_interval_s.into()),
        connections_per_client: http::LiveLimit::new(
            http_limits(&args, shard_count).connections_per_client_max,
        ),
        shard_count,
    };
    let certificate_not_after_ms = args.tls_cert.as_deref().and_then(|path| {
        cluster::alerts::certificate::not_after_ms(path)
            .map_err(|err| tracing::warn!(%err, "certificate expiry not known; no alert for it"))
            .ok()
    });
    let notifier = Arc::new(cluster::notify::Notifier::start(
        &args.data_dir.join("notify"),
        args.notification_queue_mib << 20,
    )?);
    let control = ControlPlane {
        catalog,
        master: encryption
            .master
            .clone()
            .expect("the server always has a master key"),
        shards: inbox_txs.clone(),
        snapshot: snapshot.clone(),
        default_account,
        identity_cache,
        region: args.region.clone(),
        quota_leases: Default::default(),
        admin: Default::default(),
        audit_retention_days: args.audit_retention_days,
        audit_pruned_ms: 0,
        data_dir: args.data_dir.clone(),
        scrub_stats: scrub_stats.clone(),
        metrics: Default::default(),
        metrics_settings: cluster::control::counters::MetricsSettings {
            per_bucket: args.metrics_per_bucket,
        },
        log_forward: log_forward.clone().filter(|_| forwards("audit")),
        alerts: cluster::alerts::Alerts::start(certificate_not_after_ms)?,
        console_s3: cluster::control::ConsoleS3Endpoint {
            s3_port: args.listen.port(),
            s3_tls: args.tls_cert.is_some(),
        },
        federated: Default::default(),
        notifier: notifier.clone(),
    };
    control.notification_targets_apply(true)?;
    let console = console_listener(&args)?;
    let console_tls = tls.clone();
    let metrics_token = args.metrics_token.clone();
    let alert_interval_s = reloadable.alert_interval_s.clone();
    let s3_proxy = cluster::admin::s3_proxy::ProxyTarget {
        address: loopback_if_unspecified(args.listen),
        tls: match &args.tls_cert {
            Some(path) => Some(pinned_s3_certificate(path)?),
            None => None,
        },
    };
    let control_thread = std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            run_control(
                control,
                control_rx,
                (console, console_tls, metrics_token),
                alert_interval_s,
                s3_proxy,
            )
        })
        .map_err(|err| err.to_string())?;
    let serving = Arc::new(AtomicUsize::new(0));
    let http_done = Arc::new(AtomicUsize::new(0));
    let pins = ReadPins::new();
    let (started_tx, started_rx) = mpsc::channel::<StartResult>();
    let mut shard_threads = Vec::new();
    let mut shutdowns = Vec::new();
    for (shard, inbox) in inbox_rxs.into_iter().enumerate() {
        let (trigger, shutdown) = http::shutdown_signal();
        shutdowns.push(trigger);
        let context = ShardContext {
            shard: shard as u16,
            args: args.clone(),
            indexes: indexes.clone(),
            peers: inbox_txs.clone(),
            inbox,
            control: control_tx.clone(),
            snapshot: snapshot.clone(),
            serving: serving.clone(),
            http_done: http_done.clone(),
            shutdown,
            started: started_tx.clone(),
            tls: tls.clone(),
            encryption: encryption.clone(),
            pins: pins.clone(),
            compaction_allowed: !no_compaction.contains(&(shard as u16)),
            access_log: access_log_tx.clone(),
            events: s3::notify::EventSender(notifier.clone()),
            lifecycle_interval_s: reloadable.lifecycle_interval_s.clone(),
            connections_per_client: reloadable.connections_per_client.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("shard-{shard}"))
            .spawn(move || run_shard(context))
            .map_err(|err| err.to_string())?;
        shard_threads.push(thread);
    }
    drop(started_tx);
    // The shards hold the access log's senders now: when they stop, the
    // writer sees the channel close and finishes.
    drop(access_log_tx);
    let scrubbers = start_scrubbers(&args, &indexes, &pins, encryption.master.clone())?;
    let _ = scrub_stats.set(scrubbers.iter().map(|s| s.stats.clone()).collect());
    let runtime = Runtime {
        shard_threads,
        control_thread,
        shutdowns,
        control_tx,
        scrubbers,
        access_log,
        log_forward,
        reloadable,
    };
    for _ in 0..shard_count {
        match started_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                stop(runtime);
                return Err(err);
            }
            Err(_) => {
                stop(runtime);
                return Err("a shard thread died while starting".into());
            }
        }
    }
    Ok(runtime)
}

/// Binds the console port (`--console-listen`) before any thread starts, so
/// a taken port fails the start with a clear message; `off` disables it.
fn console_listener(args: &ServerArgs) -> Result<Option<std::net::TcpListener>, String> {
    if args.console_listen == "off" {
        return Ok(None);
    }
    let address: std::net::SocketAddr = args.console_listen.parse().map_err(|err| {
        format!(
            "--console-listen {}: {err} (an address:port, or off)",
            args.console_listen
        )
    })?;
    let listener = std::net::TcpListener::bind(address)
        .map_err(|err| format!("cannot listen on the console port {address}: {err}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|err| err.to_string())?;
    Ok(Some(listener))
}

fn run_control(
    control: ControlPlane,
    requests: async_channel::Receiver<ControlRequest>,
    (console, tls, metrics_token): (
        Option<std::net::TcpListener>,
        Option<http::TlsConfig>,
        Option<String>,
    ),
    alert_interval_s: Arc<std::sync::atomic::AtomicU64>,
    s3_proxy: cluster::admin::s3_proxy::ProxyTarget,
) {
    let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("control-plane runtime");
    runtime.block_on(async move {
        monoio::spawn(trim_memory_periodically());
        let (admin_tx, admin_rx) = async_channel::bounded(CONTROL_INBOX_REQUESTS_MAX);
        let (_stop_console, console_stopped) = http::shutdown_signal();
        if let Some(listener) = console {
            match monoio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    let handler = cluster::admin::server::AdminHandler::new(
                        admin_tx.clone(),
                        metrics_token,
                        s3_proxy,
                    );
                    monoio::spawn(async move {
                        if let Err(err) =
                            http::serve(listener, handler, console_limits(), console_stopped, tls)
                                .await
                        {
                            tracing::error!(%err, "console listener stopped");
                        }
                    });
                }
                Err(err) => tracing::error!(%err, "console listener unusable"),
            }
        }
        monoio::spawn(tick_alerts(admin_tx.clone(), alert_interval_s));
        let mut control = control;
        control.start_federation(admin_tx.clone());
        drop(admin_tx);
        control.run(requests, admin_rx).await
    });
}

/// The console proxy's TLS client for the S3 port: it trusts the first certificate of
/// `--tls-cert` and no other.
fn pinned_s3_certificate(path: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    let certificate = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|err| format!("{}: {err}", path.display()))?
        .next()
        .ok_or_else(|| format!("{}: no CERTIFICATE block", path.display()))?
        .map_err(|err| format!("{}: {err}", path.display()))?;
    cluster::admin::s3_proxy::ProxyTarget::pinned_tls(certificate.as_ref().to_vec())
}

/// The address to reach a listener bound to `listen` from this host.
fn loopback_if_unspecified(listen: std::net::SocketAddr) -> std::net::SocketAddr {
    match listen.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, listen.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, listen.port()))
        }
        _ => listen,
    }
}

/// Asks the control plane to check the alert conditions every
/// `--alert-interval-s` (re-read each time: a reload changes it).
async fn tick_alerts(
    admin: async_channel::Sender<cluster::admin::AdminCall>,
    interval_s: Arc<std::sync::atomic::AtomicU64>,
) {
    loop {
        let seconds = interval_s.load(Ordering::Relaxed).max(1);
        monoio::time::sleep(std::time::Duration::from_secs(seconds)).await;
        if admin
            .send(cluster::admin::AdminCall::AlertTick)
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Starts log forwarding to the `--log-forward` targets, each with its
/// durable queue under the data directory's `log-forward/`.
fn start_log_forwarding(args: &ServerArgs) -> Result<Option<cluster::ship::Shipper>, String> {
    use cluster::ship::{LogStream, ShipperConfig, TargetConfig};
    let urls: Vec<&String> = args
        .log_forward
        .iter()
        .filter(|url| !url.is_empty())
        .collect();
    if urls.is_empty() {
        return Ok(None);
    }
    let streams: Vec<LogStream> = args
        .log_forward_logs
        .iter()
        .map(|log| match log.as_str() {
            "access" => LogStream::Access,
            _ => LogStream::Audit,
        })
        .collect();
    let tls = cluster::outbound::tls::client_config(args.log_forward_ca.as_deref());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "maxiofs".to_owned());
    let mut targets = Vec::new();
    for url in urls {
        use cluster::ship::sinks::ForwardTarget;
        let target =
            ForwardTarget::parse(url).map_err(|err| format!("--log-forward {url}: {err}"))?;
        let needs_tls = match &target {
            ForwardTarget::Syslog(syslog) => {
                matches!(syslog.transport, cluster::outbound::SyslogTransport::Tls)
            }
            ForwardTarget::Http(http) => http.tls,
        };
        // Only TLS targets need the roots; a CA file that does not load fails the start.
        let target_tls = match (&tls, needs_tls) {
            (Ok(config), true) => Some(config.clone()),
            (Err(err), true) => return Err(format!("--log-forward {url}: {err}")),
            (_, false) => None,
        };
        let sink = cluster::ship::sinks::sink_for(&target, target_tls, &host);
        let digest = <sha2::Sha256 as sha2::Digest>::digest(url.as_bytes());
        targets.push(TargetConfig {
            name: format!("target-{}", hex::encode(&digest[..8])),
            streams: streams.clone(),
            sink,
        });
    }
    let config = ShipperConfig {
        spool_dir: args.data_dir.join("log-forward"),
        queue_bytes_max: args.log_forward_queue_mib.saturating_mul(1 << 20),
    };
    cluster::ship::Shipper::start(config, targets).map(Some)
}

/// Limits of the console port: a few operators and scripts, not backup fleets.
fn console_limits() -> http::ServerLimits {
    http::ServerLimits {
        connections_max: 1024,
        connections_per_client_max: 256,
        // A read that makes no progress for this long ends the request; the
        // admin API checks its whole-request deadline between reads.
        body_read_timeout_ms: cluster::admin::REQUEST_READ_MS_MAX,
        ..http::ServerLimits::default()
    }
}

/// Gives the heap pages freed after a burst (thousands of connections, each
/// with buffers) back to the system, so the resident size comes down again.
async fn trim_memory_periodically() {
    loop {
        monoio::time::sleep(std::time::Duration::from_millis(MEMORY_TRIM_INTERVAL_MS)).await;
        engine::io::process::trim_freed_memory();
    }
}

struct ShardContext {
    shard: u16,
    args: ServerArgs,
    indexes: Vec<Index>,
    peers: Vec<async_channel::Sender<ShardRequest>>,
    inbox: async_channel::Receiver<ShardRequest>,
    control: async_channel::Sender<ControlRequest>,
    snapshot: Arc<CatalogSnapshot>,
    serving: Arc<AtomicUsize>,
    http_done: Arc<AtomicUsize>,
    shutdown: http::Shutdown,
    started: mpsc::Sender<StartResult>,
    tls: Option<http::TlsConfig>,
    encryption: EncryptionSettings,
    pins: Arc<ReadPins>,
    compaction_allowed: bool,
    access_log: Option<s3::access_log::AccessLogSender>,
    events: s3::notify::EventSender,
    lifecycle_interval_s: Arc<std::sync::atomic::AtomicU64>,
    connections_per_client: http::LiveLimit,
}

fn run_shard(context: ShardContext) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if let Err(err) = engine::io::pin_current_thread_to_core(context.shard as usize % cores) {
        tracing::warn!(shard = context.shard, %err, "could not pin shard thread");
    }
    let built = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .with_entries(1024)
        .build();
    let mut runtime = match built {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = context.started.send(Err(format!("shard runtime: {err}")));
            return;
        }
    };
    runtime.block_on(shard_main(context));
}

async fn shard_main(context: ShardContext) {
    let started = context.started.clone();
    if let Err(err) = shard_serve(context).await {
        let _ = started.send(Err(err));
    }
}

async fn shard_serve(context: ShardContext) -> Result<(), String> {
    let shard_count = context.peers.len();
    let config = StoreConfig {
        data_dir: context.args.data_dir.clone(),
        shard: context.shard,
        segment_bytes: context.args.segment_mib << 20,
        reserve_bytes: engine::store::reserve_bytes_for(
            context.args.reserve_mib.saturating_mul(1 << 20),
            context.args.segment_mib << 20,
            engine::io::uring::filesystem_bytes(&context.args.data_dir)
                .map_err(|err| format!("{}: {err}", context.args.data_dir.display()))?
                .total_bytes,
        ),
    };
    let own_index = context.indexes[context.shard as usize].clone();
    let store = ShardStore::open(config, UringDisk, own_index).map_err(|err| err.to_string())?;
    store.start();
    if context.compaction_allowed {
        store.start_compactor(compaction_config(&context.args), context.pins.clone());
    }
    if let Some(master) = context.encryption.master.clone() {
        if !master.previous_ids().is_empty() {
            monoio::spawn(rewrap_until_done(store.clone(), master));
        }
    }
    let reader = ObjectReader::new(
        UringDisk,
        context.args.data_dir.clone(),
        context.indexes,
        context.pins.clone(),
    );
    let settings = S3Settings {
        region: context.args.region.clone(),
        sigv2_enabled: context.args.sigv2 == "on",
        virtual_host_domains: context.args.domains.clone(),
        encryption: context.encryption.clone(),
        data_dir: context.args.data_dir.clone(),
        sosapi: SosapiSettings {
            s3_concurrent_tasks_max: context.args.sosapi_concurrent_tasks,
            storage_concurrent_tasks_max: context.args.sosapi_storage_tasks,
            block_kib: context.args.sosapi_block_kib,
        },
        access_log: context.access_log.clone(),
        events: Some(context.events.clone()),
        // Checked when the server started.
        transport: transport_settings(&context.args).unwrap_or_default(),
    };
    let shard = std::rc::Rc::new(Shard::new(
        context.shard,
        settings,
        store.clone(),
        reader,
        context.peers,
        context.control,
        context.snapshot,
        context.serving.clone(),
    ));
    monoio::spawn(s3::lifecycle::run(
        shard.clone(),
        s3::lifecycle::LifecycleSettings {
            day_ms: context.args.lifecycle_day_s.saturating_mul(1000),
            interval_s: context.lifecycle_interval_s.clone(),
        },
    ));
    monoio::spawn(s3::traffic::flush_periodically(shard.clone()));
    if shard.access_log.is_some() {
        monoio::spawn(s3::access_log::flush_periodically(shard.clone()));
    }
    monoio::spawn(s3::shard::serve_shard_requests(
        shard.clone(),
        context.inbox,
    ));
    let options = monoio::net::ListenerOpts::new()
        .reuse_port(true)
        .backlog(4096);
    let listener = monoio::net::TcpListener::bind_with_config(context.args.listen, &options)
        .map_err(|err| format!("cannot listen on {}: {err}", context.args.listen))?;
    context.serving.fetch_add(1, Ordering::AcqRel);
    let _ = context.started.send(Ok(()));
    let service = std::rc::Rc::new(s3::service::S3Service::new(shard.clone()));
    let served = http::serve_counted(
        listener,
        service,
        http::ServerLimits {
            connections_per_client_live: Some(context.connections_per_client.clone()),
            ..http_limits(&context.args, shard_count)
        },
        context.shutdown,
        context.tls,
        shard.connections_open.clone(),
    );
    if let Err(err) = served.await {
        tracing::error!(shard = context.shard, %err, "http server failed");
    }
    context.serving.fetch_sub(1, Ordering::AcqRel);
    if let Some(log) = shard.access_log.as_ref() {
        log.close(now_ms());
    }
    // Other shards' in-flight uploads may still append and commit here: keep
    // serving the inbox until every shard has finished its HTTP exchanges.
    context.http_done.fetch_add(1, Ordering::AcqRel);
    while context.http_done.load(Ordering::Acquire) < shard_count {
        monoio::time::sleep(Duration::from_millis(5)).await;
    }
    store.shutdown();
    store.drained().await;
    Ok(())
}

/// Each shard's HTTP limits: the defaults, with the whole-server per-client cap split
/// over the shards (each counts only its own connections).
fn http_limits(args: &ServerArgs, shard_count: usize) -> http::ServerLimits {
    let mut limits = http::ServerLimits::default();
    if let Some(whole_server) = args.connections_per_client_max {
        limits.connections_per_client_max = (whole_server as usize).div_ceil(shard_count);
    }
    limits
}

fn announce(args: &ServerArgs, shard_count: u16, generated: Option<&cluster::RootCredentials>) {
    tracing::info!(listen = %args.listen, shards = shard_count,
        data_dir = %args.data_dir.display(), "maxiofs serving S3");
    let scheme = if args.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    println!(
        "maxiofs S3 API on {scheme}://{} ({} shards, data in {})",
        args.listen,
        shard_count,
        args.data_dir.display()
    );
    if args.console_listen != "off" {
        // A wildcard address is no URL a browser can open: name this host instead.
        let console = args
            .console_listen
            .replacen("0.0.0.0:", "localhost:", 1)
            .replacen("[::]:", "localhost:", 1);
        println!(
            "maxiofs console on {scheme}://{console}/ (sign in with the root access key id and \
             secret; the admin API is under /api/v1)"
        );
    }
    if let Some(creds) = generated {
        // Printed once, to the operator's terminal; never logged.
        println!("Generated root credentials (shown only now; stored in the data directory):");
        println!("  AccessKeyId:     {}", creds.access_key);
        println!("  SecretAccessKey: {}", creds.secret_key);
    }
}

/// Waits for SIGINT or SIGTERM; SIGHUP meanwhile reloads what can change
/// while serving (`crate::reload`).
fn wait_for_signal(config: &crate::config::Applied, runtime: &Runtime) -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|err| err.to_string())?;
    for signal in signals.forever() {
        if signal != SIGHUP {
            return Ok(());
        }
        crate::reload::reload(config, &runtime.reloadable, runtime.access_log.as_ref());
    }
    Ok(())
}

/// After a key rotation: re-wraps this shard's data keys under the current
/// master key, pass after pass (an upload started under an earlier key may
/// complete later), until none is left.
async fn rewrap_until_done(store: std::rc::Rc<ShardStore<UringDisk>>, master: MasterKey) {
    const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(60);
    loop {
        match store.rewrap_pass(&master).await {
            Ok(outcome) if outcome.remaining == 0 => {
                tracing::info!(shard = store.shard(), rewrapped = outcome.rewrapped,
                    current = master.id(), earlier = ?master.previous_ids(),
                    "re-wrap complete: no data key of this shard needs an earlier master key");
                return;
            }
            Ok(outcome) => tracing::info!(
                shard = store.shard(),
                rewrapped = outcome.rewrapped,
                remaining = outcome.remaining,
                "re-wrap pass done; retrying the rest later"
            ),
            Err(engine::EngineError::ShuttingDown) => return,
            Err(err) => tracing::warn!(shard = store.shard(), %err, "re-wrap pass failed"),
        }
        monoio::time::sleep(RETRY_AFTER).await;
    }
}

fn compaction_config(args: &ServerArgs) -> CompactionConfig {
    CompactionConfig {
        live_ratio_max: f64::from(args.compact_live_percent) / 100.0,
        rate_bytes_per_s: args.compact_rate_mib.saturating_mul(1 << 20),
        idle_interval: std::time::Duration::from_secs(args.compact_interval_s.max(1)),
        seal_idle_after: std::time::Duration::from_secs(args.compact_seal_idle_s),
    }
}

fn start_scrubbers(
    args: &ServerArgs,
    indexes: &[Index],
    pins: &Arc<ReadPins>,
    master: Option<engine::crypto::MasterKey>,
) -> Result<Vec<Scrubber>, String> {
    let config = ScrubConfig {
        rate_bytes_per_s: args.scrub_rate_mib.saturating_mul(1 << 20),
        pass_interval: std::time::Duration::from_secs(args.scrub_interval_s),
    };
    let mut scrubbers = Vec::new();
    for (shard, index) in indexes.iter().enumerate() {
        let scrubber = Scrubber::spawn(
            index.clone(),
            args.data_dir.clone(),
            shard as u16,
            config.clone(),
            pins.clone(),
            master.clone(),
        )
        .map_err(|err| format!("starting the scrubber of shard {shard}: {err}"))?;
        scrubbers.extend(scrubber);
    }
    Ok(scrubbers)
}

fn stop(runtime: Runtime) {
    drop(runtime.scrubbers);
    for trigger in &runtime.shutdowns {
        trigger.trigger();
    }
    for thread in runtime.shard_threads {
        let _ = thread.join();
    }
    runtime.control_tx.close();
    let _ = runtime.control_thread.join();
    // The shards and the control plane are gone, and with them every sender
    // of access log lines and audit records: what they sent is written out.
    if let Some(writer) = runtime.access_log {
        writer.finish();
    }
    if let Some(shipper) = runtime.log_forward.and_then(Arc::into_inner) {
        shipper.stop();
    }
}
