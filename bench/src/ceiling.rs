//! `maxiofs-bench ceiling`: this machine's limits, measured in the same run as the load,
//! so results can be given as a fraction of them:
//! - single-core hashing a PUT cannot avoid (MD5 for the ETag, CRC32C for the on-disk
//!   records), SHA-256, and AES-256-CTR + HMAC-SHA256 (the engine's encryption at rest).
//!   These are per second of the working thread's CPU time, like the server's CPU
//!   figures, so a busy machine slows the run but barely moves the numbers;
//! - sequential write (fdatasync included) and read bandwidth of one directory's disk,
//!   with O_DIRECT so the page cache neither absorbs the writes nor serves the reads;
//! - loopback TCP bandwidth between two threads;
//! - the kernel's CPU cost of one durable index commit's write pattern, B-tree pages
//!   against an append-only log (`commit_floor`).
//!
//! The disk and TCP rates are wall-clock: their cost is waiting on the device or on the
//! other end of the socket, which one thread's CPU time does not see.
//!
//! Must not touch: any file but its own temporary one in the data directory (removed
//! even when the run fails), or any socket but its own loopback pair.
//!
//! Main types: `CeilingSpec` (what to measure), `CeilingReport`.

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use md5::Md5;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::commit_floor::{measure_commit_floor, CommitFloorReport};
use crate::cpu::thread_cpu_and_wall_s;
use crate::limits::{
    CEILING_BUFFER_BYTES, CEILING_DISK_IO_BYTES, CEILING_TCP_IO_BYTES, COMMIT_FLOOR_RUNS,
    COMMIT_FLOOR_RUN_PAGES, DIRECT_IO_ALIGNMENT_BYTES, SOCKET_TIMEOUT,
};
use crate::scratch::{direct_io_aligned_mut, RemoveFileOnDrop};

const GIB_BYTES: f64 = (1u64 << 30) as f64;
const MIB_BYTES: f64 = (1u64 << 20) as f64;

type Aes256Ctr = ctr::Ctr128BE<Aes256>;

/// What to measure. Every byte count is rounded up to whole buffers of its kind.
#[derive(Debug, Clone)]
pub struct CeilingSpec {
    /// Bytes hashed (and encrypted) by each algorithm.
    pub hash_bytes: u64,
    /// Directory whose disk is measured; the temporary file is written here.
    pub data_dir: PathBuf,
    pub disk_bytes: u64,
    pub tcp_bytes: u64,
    /// Commits of each write pattern `commit_floor` measures.
    pub commits: u64,
}

/// The machine's limits: CPU rates in GiB per CPU-second of one thread, disk and network
/// in MiB per wall-clock second.
pub struct CeilingReport {
    /// Bytes each CPU algorithm went through.
    pub total_bytes: u64,
    pub md5_gib_per_s: f64,
    pub crc32c_gib_per_s: f64,
    pub sha256_gib_per_s: f64,
    /// Encrypt each buffer with AES-256-CTR, then HMAC-SHA256 the ciphertext.
    pub aes_ctr_hmac_gib_per_s: f64,
    pub disk: DiskReport,
    pub tcp: TcpReport,
    pub commit: CommitFloorReport,
}

/// Sequential bandwidth of the data directory's disk.
pub struct DiskReport {
    pub data_dir: PathBuf,
    pub total_bytes: u64,
    /// Writes and the closing fdatasync.
    pub write_mib_per_s: f64,
    pub read_mib_per_s: f64,
    /// False when the filesystem refused O_DIRECT (tmpfs before Linux 6.6) and buffered
    /// I/O was used: the reads then likely came from the page cache.
    pub direct: bool,
}

/// Loopback TCP bandwidth, from the first write until the receiver has read everything.
pub struct TcpReport {
    pub total_bytes: u64,
    pub mib_per_s: f64,
}

impl CeilingReport {
    /// CPU seconds one core spends on MD5 + CRC32C of one GiB: the floor of a PUT's cost.
    pub fn md5_crc32c_cpu_s_per_gib(&self) -> f64 {
        1.0 / self.md5_gib_per_s + 1.0 / self.crc32c_gib_per_s
    }

    pub fn to_json(&self) -> String {
        format!(
            "{{\"op\":\"ceiling\",\"total_bytes\":{},\"md5_gib_per_s\":{:.3},\
             \"crc32c_gib_per_s\":{:.3},\"sha256_gib_per_s\":{:.3},\
             \"md5_crc32c_cpu_s_per_gib\":{:.3},\"aes_ctr_hmac_gib_per_s\":{:.3},\
             \"disk_bytes\":{},\"disk_write_mib_per_s\":{:.1},\"disk_read_mib_per_s\":{:.1},\
             \"disk_direct\":{},\"tcp_bytes\":{},\"tcp_loopback_mib_per_s\":{:.1},\
             \"commits\":{},\"commit_btree_cpu_us\":{:.1},\"commit_log_cpu_us\":{:.1},\
             \"commit_log_direct\":{},\"commit_sync_floor_cpu_us\":{:.1}}}",
            self.total_bytes,
            self.md5_gib_per_s,
            self.crc32c_gib_per_s,
            self.sha256_gib_per_s,
            self.md5_crc32c_cpu_s_per_gib(),
            self.aes_ctr_hmac_gib_per_s,
            self.disk.total_bytes,
            self.disk.write_mib_per_s,
            self.disk.read_mib_per_s,
            self.disk.direct,
            self.tcp.total_bytes,
            self.tcp.mib_per_s,
            self.commit.commits,
            self.commit.btree.cpu_us,
            self.commit.log.cpu_us,
            self.commit.log_direct,
            self.commit.sync_floor.cpu_us,
        )
    }

    pub fn to_human(&self) -> String {
        let disk_io = match self.disk.direct {
            true => "O_DIRECT",
            false => "buffered (O_DIRECT refused; reads may come from the page cache)",
        };
        let log_io = match self.commit.log_direct {
            true => "O_DIRECT",
            false => "buffered",
        };
        format!(
            "ceiling over {} bytes in {} B buffers, GiB per CPU-second of one thread:\n  \
             MD5     {:.3} GiB/s\n  CRC32C  {:.3} GiB/s\n  SHA-256 {:.3} GiB/s\n  \
             AES-256-CTR + HMAC-SHA256 {:.3} GiB/s\n  \
             MD5 + CRC32C: {:.3} CPU-s per GiB\n\
             disk of {}, {} bytes in {} B {disk_io} I/Os, wall-clock:\n  \
             write + fdatasync {:.1} MiB/s\n  read              {:.1} MiB/s\n\
             loopback TCP, {} bytes in {} B writes, wall-clock: {:.1} MiB/s\n\
             one durable index commit of {} pages, {} commits each, CPU-us (wall-us) per commit:\n  \
             B-tree: random buffered page runs, fdatasync, O_DSYNC meta page {:.1} ({:.1})\n  \
             log: one sequential {log_io} write, fdatasync {:.1} ({:.1})\n  \
             floor: one page, fdatasync {:.1} ({:.1})\n",
            self.total_bytes,
            CEILING_BUFFER_BYTES,
            self.md5_gib_per_s,
            self.crc32c_gib_per_s,
            self.sha256_gib_per_s,
            self.aes_ctr_hmac_gib_per_s,
            self.md5_crc32c_cpu_s_per_gib(),
            self.disk.data_dir.display(),
            self.disk.total_bytes,
            CEILING_DISK_IO_BYTES,
            self.disk.write_mib_per_s,
            self.disk.read_mib_per_s,
            self.tcp.total_bytes,
            CEILING_TCP_IO_BYTES,
            self.tcp.mib_per_s,
            COMMIT_FLOOR_RUNS * COMMIT_FLOOR_RUN_PAGES,
            self.commit.commits,
            self.commit.btree.cpu_us,
            self.commit.btree.wall_us,
            self.commit.log.cpu_us,
            self.commit.log.wall_us,
            self.commit.sync_floor.cpu_us,
            self.commit.sync_floor.wall_us,
        )
    }
}

/// Runs every measurement in turn: CPU, then disk, then loopback TCP, then the index
/// commit patterns.
pub fn measure(spec: &CeilingSpec) -> Result<CeilingReport, String> {
    let mut buffer = vec![0u8; CEILING_BUFFER_BYTES];
    rand::thread_rng().fill_bytes(&mut buffer);
    let buffers = spec.hash_bytes.div_ceil(CEILING_BUFFER_BYTES as u64).max(1);
    let hashed_bytes = buffers * CEILING_BUFFER_BYTES as u64;
    let rate = |seconds: f64| hashed_bytes as f64 / GIB_BYTES / seconds;
    let md5_s = time_s(|| {
        let mut hasher = Md5::new();
        for _ in 0..buffers {
            hasher.update(black_box(&buffer));
        }
        black_box(hasher.finalize());
    });
    let crc32c_s = time_s(|| {
        let mut crc = 0u32;
        for _ in 0..buffers {
            crc = crc32c::crc32c_append(crc, black_box(&buffer));
        }
        black_box(crc);
    });
    let sha256_s = time_s(|| {
        let mut hasher = Sha256::new();
        for _ in 0..buffers {
            hasher.update(black_box(&buffer));
        }
        black_box(hasher.finalize());
    });
    // Last of the CPU measurements: it encrypts `buffer` in place.
    let aes_ctr_hmac_s = time_s(|| encrypt_buffers(&mut buffer, buffers));
    Ok(CeilingReport {
        total_bytes: hashed_bytes,
        md5_gib_per_s: rate(md5_s),
        crc32c_gib_per_s: rate(crc32c_s),
        sha256_gib_per_s: rate(sha256_s),
        aes_ctr_hmac_gib_per_s: rate(aes_ctr_hmac_s),
        disk: measure_disk(&spec.data_dir, spec.disk_bytes)?,
        tcp: measure_tcp(spec.tcp_bytes)?,
        commit: measure_commit_floor(&spec.data_dir, spec.commits)?,
    })
}

/// Encrypts `buffer` in place `buffers` times as the engine encrypts a chunk: a fresh
/// AES-256-CTR keystream per chunk (its IV carries the chunk's index), then an
/// HMAC-SHA256 tag of the ciphertext. Re-encrypting the same bytes is as good as fresh
/// data: neither algorithm's speed depends on the content.
fn encrypt_buffers(buffer: &mut [u8], buffers: u64) {
    let (mut cipher_key, mut mac_key) = ([0u8; 32], [0u8; 32]);
    rand::thread_rng().fill_bytes(&mut cipher_key);
    rand::thread_rng().fill_bytes(&mut mac_key);
    for chunk_index in 0..buffers {
        let mut iv = [0u8; 16];
        iv[8..].copy_from_slice(&chunk_index.to_be_bytes());
        let mut cipher = Aes256Ctr::new(&cipher_key.into(), &iv.into());
        cipher.apply_keystream(black_box(&mut *buffer));
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&mac_key)
            .expect("HMAC accepts keys of any length");
        mac.update(&iv);
        mac.update(black_box(&*buffer));
        black_box(mac.finalize());
    }
}

/// Seconds `work` took on this thread's CPU, so other load on the machine does not
/// lower the rates; wall-clock seconds where the kernel does not say.
fn time_s(work: impl FnOnce()) -> f64 {
    let ((), cpu_s, wall_s) = thread_cpu_and_wall_s(work);
    let cpu_s = if cpu_s > 0.0 { cpu_s } else { wall_s };
    cpu_s.max(f64::MIN_POSITIVE)
}

/// Writes `total_bytes` (rounded up to whole I/Os) to a temporary file in `data_dir`,
/// fdatasyncs it, reads it back and removes it. O_DIRECT when the filesystem allows it.
fn measure_disk(data_dir: &Path, total_bytes: u64) -> Result<DiskReport, String> {
    let ios = total_bytes.div_ceil(CEILING_DISK_IO_BYTES as u64).max(1);
    let file_bytes = ios * CEILING_DISK_IO_BYTES as u64;
    let mut storage = vec![0u8; CEILING_DISK_IO_BYTES + DIRECT_IO_ALIGNMENT_BYTES];
    let io_buffer = direct_io_aligned_mut(&mut storage, CEILING_DISK_IO_BYTES);
    // Random bytes, so a disk that compresses or deduplicates cannot shortcut the writes.
    rand::thread_rng().fill_bytes(io_buffer);
    let path = data_dir.join(format!(".maxiofs-bench-ceiling-{}.tmp", std::process::id()));
    let in_file = |e: io::Error| format!("ceiling disk test on {}: {e}", path.display());
    // Armed before the file is created: an error or a panic below still removes it.
    let _remove = RemoveFileOnDrop(&path);
    let (write_s, direct) = match disk_write_s(&path, io_buffer, ios, true) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => (
            disk_write_s(&path, io_buffer, ios, false).map_err(in_file)?,
            false,
        ),
        written => (written.map_err(in_file)?, true),
    };
    let (read_bytes, read_s) = disk_read_s(&path, io_buffer, direct).map_err(in_file)?;
    if read_bytes != file_bytes {
        return Err(in_file(io::Error::other(format!(
            "wrote {file_bytes} bytes but read back {read_bytes}"
        ))));
    }
    let mib = file_bytes as f64 / MIB_BYTES;
    Ok(DiskReport {
        data_dir: data_dir.to_owned(),
        total_bytes: file_bytes,
        write_mib_per_s: mib / write_s,
        read_mib_per_s: mib / read_s,
        direct,
    })
}

/// Wall-clock seconds to write `io_buffer` `ios` times at the start of a truncated
/// `path` and fdatasync it. With `direct`, EINVAL from open or the first write means
/// the filesystem refuses O_DIRECT.
fn disk_write_s(path: &Path, io_buffer: &[u8], ios: u64, direct: bool) -> io::Result<f64> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if direct {
        options.custom_flags(libc::O_DIRECT);
    }
    let mut file = options.open(path)?;
    let started = Instant::now();
    for _ in 0..ios {
        file.write_all(io_buffer)?;
    }
    file.sync_data()?;
    Ok(started.elapsed().as_secs_f64().max(f64::MIN_POSITIVE))
}

/// Reads `path` to its end in `io_buffer`-sized reads: bytes read and wall-clock seconds.
fn disk_read_s(path: &Path, io_buffer: &mut [u8], direct: bool) -> io::Result<(u64, f64)> {
    let mut options = OpenOptions::new();
    options.read(true);
    if direct {
        options.custom_flags(libc::O_DIRECT);
    }
    let mut file: File = options.open(path)?;
    let (mut read_bytes, started) = (0u64, Instant::now());
    loop {
        match file.read(io_buffer) {
            Ok(0) => break,
            Ok(got) => read_bytes += got as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((
        read_bytes,
        started.elapsed().as_secs_f64().max(f64::MIN_POSITIVE),
    ))
}

/// Sends `total_bytes` (rounded up to whole writes) from this thread to a receiver thread
/// over 127.0.0.1.
fn measure_tcp(total_bytes: u64) -> Result<TcpReport, String> {
    let writes = total_bytes.div_ceil(CEILING_TCP_IO_BYTES as u64).max(1);
    let sent_bytes = writes * CEILING_TCP_IO_BYTES as u64;
    let tcp_error = |e: io::Error| format!("ceiling loopback TCP test: {e}");
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(tcp_error)?;
    let addr = listener.local_addr().map_err(tcp_error)?;
    let receiver = std::thread::Builder::new()
        .name("ceiling-tcp-receiver".to_owned())
        .spawn(move || tcp_receive_bytes(&listener))
        .map_err(tcp_error)?;
    // Loopback content does not matter: nothing on the path compresses or inspects it.
    let write_buffer = vec![0x5a_u8; CEILING_TCP_IO_BYTES];
    // If the connect failed, the receiver would wait in accept() until the process exits;
    // a loopback connect to a bound listener does not fail in practice.
    let mut stream = TcpStream::connect_timeout(&addr, SOCKET_TIMEOUT).map_err(tcp_error)?;
    stream
        .set_write_timeout(Some(SOCKET_TIMEOUT))
        .map_err(tcp_error)?;
    let started = Instant::now();
    for _ in 0..writes {
        stream.write_all(&write_buffer).map_err(tcp_error)?;
    }
    stream.shutdown(Shutdown::Write).map_err(tcp_error)?;
    let received_bytes = receiver
        .join()
        .map_err(|_| "ceiling loopback TCP receiver panicked".to_owned())?
        .map_err(tcp_error)?;
    let wall_s = started.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    if received_bytes != sent_bytes {
        return Err(format!(
            "ceiling loopback TCP test: sent {sent_bytes} bytes, received {received_bytes}"
        ));
    }
    Ok(TcpReport {
        total_bytes: sent_bytes,
        mib_per_s: sent_bytes as f64 / MIB_BYTES / wall_s,
    })
}

/// Accepts one connection and reads it to its end, discarding the bytes.
fn tcp_receive_bytes(listener: &TcpListener) -> io::Result<u64> {
    let (mut stream, _) = listener.accept()?;
    stream.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    let mut buffer = vec![0u8; CEILING_TCP_IO_BYTES];
    let mut received_bytes = 0u64;
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Ok(received_bytes),
            Ok(got) => received_bytes += got as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_ceiling_measures_every_rate_and_cleans_up() {
        let data_dir =
            std::env::temp_dir().join(format!("maxiofs-bench-ceiling-{}", std::process::id()));
        std::fs::create_dir_all(&data_dir).expect("temp dir");
        let spec = CeilingSpec {
            hash_bytes: 1,
            data_dir: data_dir.clone(),
            disk_bytes: 3 * CEILING_DISK_IO_BYTES as u64 - 1,
            tcp_bytes: 1,
            commits: 1,
        };
        let report = measure(&spec).expect("ceiling runs");
        let leftovers = std::fs::read_dir(&data_dir).expect("list").count();
        std::fs::remove_dir_all(&data_dir).expect("remove temp dir");
        assert_eq!(leftovers, 0, "the temporary file is removed");
        assert_eq!(report.total_bytes, CEILING_BUFFER_BYTES as u64);
        assert_eq!(report.disk.total_bytes, 3 * CEILING_DISK_IO_BYTES as u64);
        assert_eq!(report.tcp.total_bytes, CEILING_TCP_IO_BYTES as u64);
        let rates = [
            report.md5_gib_per_s,
            report.crc32c_gib_per_s,
            report.sha256_gib_per_s,
            report.aes_ctr_hmac_gib_per_s,
            report.disk.write_mib_per_s,
            report.disk.read_mib_per_s,
            report.tcp.mib_per_s,
        ];
        assert!(
            rates.iter().all(|rate| rate.is_finite() && *rate > 0.0),
            "{rates:?}"
        );
        let json = report.to_json();
        for field in [
            "aes_ctr_hmac_gib_per_s",
            "disk_write_mib_per_s",
            "disk_direct",
        ] {
            assert!(json.contains(&format!("\"{field}\":")), "{json}");
        }
        assert!(json.contains("\"tcp_loopback_mib_per_s\":"), "{json}");
        assert!(json.contains("\"commit_btree_cpu_us\":"), "{json}");
        assert!(report.to_human().contains("AES-256-CTR + HMAC-SHA256"));
    }

    #[test]
    fn missing_data_dir_is_an_error_not_a_panic() {
        let data_dir = std::env::temp_dir().join("maxiofs-bench-no-such-dir/nested");
        let error = measure_disk(&data_dir, 1)
            .err()
            .expect("no directory, no test");
        assert!(error.contains("maxiofs-bench-no-such-dir"), "{error}");
    }
}
