//! `maxiofs-bench ceiling`: this machine's single-core hashing rates, measured in the
//! same run as the load, so server CPU per GiB can be given as a multiple of the
//! hashing a PUT cannot avoid (MD5 for the ETag, CRC32C for the on-disk records).
//! Rates are per second of the hashing thread's CPU time, like the server's CPU
//! figures, so a busy machine slows the run but barely moves the numbers.
//!
//! Must not touch: the network or the disk.

use std::hint::black_box;
use std::time::Instant;

use md5::Md5;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::cpu::thread_cpu_s;
use crate::limits::CEILING_BUFFER_BYTES;

const GIB_BYTES: f64 = (1u64 << 30) as f64;

/// Hashing rates in GiB per CPU-second of one thread.
pub struct CeilingReport {
    pub total_bytes: u64,
    pub md5_gib_per_s: f64,
    pub crc32c_gib_per_s: f64,
    pub sha256_gib_per_s: f64,
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
             \"md5_crc32c_cpu_s_per_gib\":{:.3}}}",
            self.total_bytes,
            self.md5_gib_per_s,
            self.crc32c_gib_per_s,
            self.sha256_gib_per_s,
            self.md5_crc32c_cpu_s_per_gib()
        )
    }

    pub fn to_human(&self) -> String {
        format!(
            "ceiling over {} bytes in {} B buffers, GiB per CPU-second of one thread:\n  \
             MD5     {:.3} GiB/s\n  CRC32C  {:.3} GiB/s\n  SHA-256 {:.3} GiB/s\n  \
             MD5 + CRC32C: {:.3} CPU-s per GiB\n",
            self.total_bytes,
            CEILING_BUFFER_BYTES,
            self.md5_gib_per_s,
            self.crc32c_gib_per_s,
            self.sha256_gib_per_s,
            self.md5_crc32c_cpu_s_per_gib()
        )
    }
}

/// Hashes `total_bytes` (rounded up to whole buffers) with each algorithm in turn.
pub fn measure(total_bytes: u64) -> CeilingReport {
    let mut buffer = vec![0u8; CEILING_BUFFER_BYTES];
    rand::thread_rng().fill_bytes(&mut buffer);
    let buffers = total_bytes.div_ceil(CEILING_BUFFER_BYTES as u64).max(1);
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
    CeilingReport {
        total_bytes: hashed_bytes,
        md5_gib_per_s: rate(md5_s),
        crc32c_gib_per_s: rate(crc32c_s),
        sha256_gib_per_s: rate(sha256_s),
    }
}

/// Seconds `work` took on this thread's CPU, so other load on the machine does not
/// lower the rates; wall-clock seconds where the kernel does not say.
fn time_s(work: impl FnOnce()) -> f64 {
    let (cpu_before, started) = (thread_cpu_s(), Instant::now());
    work();
    let wall_s = started.elapsed().as_secs_f64();
    let cpu_s = thread_cpu_s()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    cpu_s
        .filter(|&s| s > 0.0)
        .unwrap_or(wall_s)
        .max(f64::MIN_POSITIVE)
}
