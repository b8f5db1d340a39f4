//! The access log's writer thread: receives the shards' chunks of lines
//! (`s3::access_log`), appends them to the access log file (`--access-log`,
//! 0600) and hands them to log forwarding (`crate::ship`) when a target
//! wants the access log.
//!
//! Owns: the open file. Rotation is the operator's (logrotate's) move: rename
//! the file, send SIGHUP, and the writer reopens the path within a second
//! ([`AccessLogWriter::reopen`]); nothing written before is lost and nothing
//! after lands in the renamed file. No fsync: the access log is an account
//! of requests, not a record a client was promised.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::ship::{LogRecord, LogStream, Shipper};

/// How long the writer waits for lines before it looks at the reopen flag.
const REOPEN_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How often a failing file is said in the log.
const WRITE_ERROR_INTERVAL: Duration = Duration::from_secs(60);

/// The running writer.
pub struct AccessLogWriter {
    reopen: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AccessLogWriter {
    /// Starts the writer on `path` (when set) and `forward` (when a target
    /// wants the access log); the shards hold the channel's senders.
    pub fn start(
        path: Option<PathBuf>,
        forward: Option<Arc<Shipper>>,
    ) -> Result<(s3::access_log::AccessLogSender, AccessLogWriter), String> {
        let file = match &path {
            Some(path) => Some(open(path).map_err(|err| format!("{}: {err}", path.display()))?),
            None => None,
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(s3::access_log::CHANNEL_CHUNKS_MAX);
        let reopen = Arc::new(AtomicBool::new(false));
        let flag = reopen.clone();
        let thread = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_loop(rx, path, file, forward, flag))
            .map_err(|err| err.to_string())?;
        Ok((
            tx,
            AccessLogWriter {
                reopen,
                thread: Some(thread),
            },
        ))
    }

    /// Reopens the file's path (after the operator renamed it: SIGHUP).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
    }

    /// Waits until every line sent was written; the shards' senders must be
    /// gone (the shards stopped) or this waits for them.
    pub fn finish(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Opens for appending, created 0600 (it names users, keys and addresses).
fn open(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

fn write_loop(
    rx: Receiver<String>,
    path: Option<PathBuf>,
    mut file: Option<File>,
    forward: Option<Arc<Shipper>>,
    reopen: Arc<AtomicBool>,
) {
    let mut error_said: Option<std::time::Instant> = None;
    loop {
        let chunk = match rx.recv_timeout(REOPEN_CHECK_INTERVAL) {
            Ok(chunk) => Some(chunk),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if reopen.swap(false, Ordering::AcqRel) {
            if let Some(path) = &path {
                match open(path) {
                    Ok(reopened) => {
                        file = Some(reopened);
                        tracing::info!(path = %path.display(), "access log reopened");
                    }
                    Err(err) => tracing::error!(path = %path.display(), %err,
                        "access log not reopened; still writing to the file open before"),
                }
            }
        }
        let Some(chunk) = chunk else { continue };
        if let Some(open_file) = file.as_mut() {
            if let Err(err) = open_file.write_all(chunk.as_bytes()) {
                let due = error_said.is_none_or(|said| said.elapsed() >= WRITE_ERROR_INTERVAL);
                if due {
                    tracing::error!(%err, "access log lines not written");
                    error_said = Some(std::time::Instant::now());
                }
            }
        }
        if let Some(shipper) = &forward {
            let time_ms = crate::control::now_ms();
            let records = chunk
                .lines()
                .map(|line| LogRecord {
                    stream: LogStream::Access,
                    time_ms,
                    message: line.to_owned(),
                })
                .collect();
            shipper.submit(records);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_reopens_after_a_rename_and_finishes_with_every_line() {
        let dir = std::env::temp_dir().join(format!("maxiofs-access-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.log");
        let (tx, writer) = AccessLogWriter::start(Some(path.clone()), None).unwrap();
        tx.send("one\n".into()).unwrap();
        // The writer has the line once it is in the file.
        while std::fs::read_to_string(&path).unwrap() != "one\n" {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::rename(&path, dir.join("access.log.1")).unwrap();
        writer.reopen();
        // The flag is looked at before the next chunk is written.
        std::thread::sleep(REOPEN_CHECK_INTERVAL + Duration::from_millis(200));
        tx.send("two\nthree\n".into()).unwrap();
        drop(tx);
        writer.finish();
        let rotated = std::fs::read_to_string(dir.join("access.log.1")).unwrap();
        assert_eq!(rotated, "one\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\nthree\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
