//! Progress of commands that walk the whole data set (`maxiofs check`): a
//! bar with entries and bytes done of the total, rate and time left on a
//! terminal (indicatif), and a plain line every few seconds otherwise (logs,
//! CI, pipes), so a long run never looks hung.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A plain progress line at most this often when stderr is not a terminal.
const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

pub struct Progress {
    label: String,
    total_entries: u64,
    started: Instant,
    shown: Shown,
}

enum Shown {
    Bar(ProgressBar),
    Plain { last: Instant },
}

impl Progress {
    /// `total_entries` is what the walk should meet (its usage counters);
    /// a walk may meet a few more or fewer.
    pub fn new(label: String, total_entries: u64) -> Progress {
        let shown = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(
                Some(total_entries),
                ProgressDrawTarget::stderr_with_hz(4),
            );
            let style = ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} entries, {prefix} verified, {per_sec}, {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(label.clone());
            Shown::Bar(bar)
        } else {
            Shown::Plain {
                last: Instant::now(),
            }
        };
        Progress {
            label,
            total_entries,
            started: Instant::now(),
            shown,
        }
    }

    /// `entries` walked so far, `bytes` of payload verified.
    pub fn update(&mut self, entries: u64, bytes: u64) {
        match &mut self.shown {
            Shown::Bar(bar) => {
                bar.set_position(entries);
                bar.set_prefix(indicatif::HumanBytes(bytes).to_string());
            }
            Shown::Plain { last } => {
                if last.elapsed() < PLAIN_INTERVAL {
                    return;
                }
                *last = Instant::now();
                eprintln!("{}", self.line(entries, bytes));
            }
        }
    }

    /// The plain form: done of total, bytes, rate and time left.
    fn line(&self, entries: u64, bytes: u64) -> String {
        let elapsed_s = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = bytes as f64 / elapsed_s;
        let percent = (entries * 100)
            .checked_div(self.total_entries)
            .unwrap_or(100);
        let left = match entries {
            0 => "unknown".to_owned(),
            _ => {
                let remaining = self.total_entries.saturating_sub(entries) as f64;
                let seconds = remaining * elapsed_s / entries as f64;
                format!("{}s", seconds.round() as u64)
            }
        };
        format!(
            "{}: {entries}/{} entries ({percent}%), {} verified, {}/s, {left} left",
            self.label,
            self.total_entries,
            indicatif::HumanBytes(bytes),
            indicatif::HumanBytes(rate as u64),
        )
    }

    pub fn finish(self) {
        if let Shown::Bar(bar) = self.shown {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_say_done_of_total_and_time_left() {
        let progress = Progress {
            label: "check shard 0".into(),
            total_entries: 200,
            started: Instant::now() - Duration::from_secs(10),
            shown: Shown::Plain {
                last: Instant::now(),
            },
        };
        let line = progress.line(50, 10 << 20);
        assert!(
            line.starts_with("check shard 0: 50/200 entries (25%), 10.00 MiB verified"),
            "{line}"
        );
        assert!(line.ends_with("30s left"), "{line}");
        assert!(progress.line(0, 0).ends_with("unknown left"));
    }
}
