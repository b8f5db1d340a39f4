//! The server's CPU time, read from `/proc/PID/stat` (user + system), so results can
//! be given per GiB and per operation: figures that do not depend on the machine's speed.
//!
//! Must not touch: anything but `/proc` and `getconf`.

use std::process::Command;

/// Clock ticks per second when `getconf CLK_TCK` cannot be run; Linux's value on
/// every architecture we target.
const CLOCK_TICKS_PER_S_DEFAULT: u64 = 100;

/// Samples one process's CPU time.
pub struct CpuProbe {
    pid: u32,
    ticks_per_s: u64,
}

impl CpuProbe {
    pub fn new(pid: u32) -> Self {
        CpuProbe {
            pid,
            ticks_per_s: clock_ticks_per_s(),
        }
    }

    /// User + system CPU seconds the process has used so far.
    pub fn cpu_s(&self) -> Result<f64, String> {
        let path = format!("/proc/{}/stat", self.pid);
        let stat =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let ticks = parse_stat_cpu_ticks(&stat).ok_or_else(|| format!("malformed {path}"))?;
        Ok(ticks as f64 / self.ticks_per_s as f64)
    }
}

/// CPU seconds the calling thread has run, from `/proc/thread-self/schedstat`
/// (nanoseconds on a CPU, its first field). `None` where the kernel lacks it.
pub fn thread_cpu_s() -> Option<f64> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let run_ns: u64 = schedstat.split_whitespace().next()?.parse().ok()?;
    Some(run_ns as f64 / 1e9)
}

/// Runs `work` and returns its result with the CPU seconds this thread spent on it
/// (wall-clock seconds where the kernel does not say) and the wall-clock seconds.
pub fn thread_cpu_and_wall_s<T>(work: impl FnOnce() -> T) -> (T, f64, f64) {
    let (cpu_before, started) = (thread_cpu_s(), std::time::Instant::now());
    let result = work();
    let wall_s = started.elapsed().as_secs_f64();
    let cpu_s = thread_cpu_s()
        .zip(cpu_before)
        .map_or(wall_s, |(after, before)| after - before);
    (result, cpu_s, wall_s)
}

fn clock_ticks_per_s() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(CLOCK_TICKS_PER_S_DEFAULT)
}

/// utime + stime, fields 14 and 15 of `/proc/PID/stat`. The command name (field 2)
/// is in parentheses and may hold spaces, so fields are counted after its last `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // After the name come field 3 (state) onwards, so field n is at index n - 3.
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_ticks_skip_a_name_with_spaces() {
        let stat = "42 (max io) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(325));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }
}
