//! `maxiofs check`: the offline integrity check of a stopped server's data
//! directory. Takes the data directory's lock (so it never races a server),
//! runs the engine's per-shard check, names buckets from the catalog, prints
//! what it found and, with `--repair`, what it dropped.

use std::collections::HashMap;

use cluster::catalog::{Catalog, CATALOG_FILE};
use engine::check::{Problem, ShardCheck, Subject};

use crate::server::{lock_data_dir, open_indexes, SETTING_SHARD_COUNT};
use crate::CheckArgs;

const MIB_BYTES: f64 = (1u64 << 20) as f64;

/// What the check concluded.
pub enum Verdict {
    /// Nothing wrong, or everything wrong was dropped by `--repair`.
    Clean,
    ProblemsFound,
}

pub fn run(args: &CheckArgs) -> Result<Verdict, String> {
    // Opening a catalog creates one: check first that there is a data directory.
    if !args.data_dir.join(CATALOG_FILE).exists() {
        return Err(format!(
            "{} is not a maxiofs data directory",
            args.data_dir.display()
        ));
    }
    let _lock = lock_data_dir(&args.data_dir)?;
    let catalog = Catalog::open(&args.data_dir).map_err(|err| err.to_string())?;
    let shard_count: u16 = catalog
        .setting(SETTING_SHARD_COUNT)
        .map_err(|err| err.to_string())?
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| {
            format!(
                "{} records no shard count: never served",
                args.data_dir.display()
            )
        })?;
    let bucket_names: HashMap<u64, String> = catalog
        .buckets()
        .map_err(|err| err.to_string())?
        .into_iter()
        .map(|row| (row.id, row.name))
        .collect();
    let indexes = open_indexes(&args.data_dir, shard_count)?;
    let mut problems_left = 0usize;
    for (shard, index) in indexes.iter().enumerate() {
        let shard = shard as u16;
        let check = index
            .check(&args.data_dir, shard)
            .map_err(|err| format!("shard {shard}: {err}"))?;
        print_summary(shard, &check);
        for problem in &check.problems {
            println!(
                "PROBLEM shard {shard}: {}",
                describe(problem, &bucket_names)
            );
        }
        if args.repair && !check.problems.is_empty() {
            let lost = index
                .repair(&check.problems)
                .map_err(|err| format!("shard {shard}: repair: {err}"))?;
            for line in &lost {
                println!("REPAIRED shard {shard}: dropped {line}; its data is lost");
            }
            if check
                .problems
                .iter()
                .any(|p| p.subject == Subject::Accounting)
            {
                println!("REPAIRED shard {shard}: space accounting recomputed from the index");
            }
            problems_left += lost.iter().filter(|l| l.contains("(not dropped")).count();
            problems_left += check
                .problems
                .iter()
                .filter(|p| matches!(p.subject, Subject::Segment { .. }))
                .count();
        } else {
            problems_left += check.problems.len();
        }
    }
    if problems_left == 0 {
        println!("check: OK");
        Ok(Verdict::Clean)
    } else {
        println!("check: {problems_left} problem(s) remain");
        Ok(Verdict::ProblemsFound)
    }
}

fn print_summary(shard: u16, check: &ShardCheck) {
    println!(
        "shard {shard}: {} objects, {} multipart parts, {} chunks, {:.1} MiB verified, {} problem(s)",
        check.objects,
        check.parts,
        check.extents,
        check.payload_bytes_verified as f64 / MIB_BYTES,
        check.problems.len()
    );
}

fn describe(problem: &Problem, bucket_names: &HashMap<u64, String>) -> String {
    let subject = match &problem.subject {
        Subject::Object { bucket_id, key } => {
            let bucket = bucket_names
                .get(bucket_id)
                .cloned()
                .unwrap_or_else(|| format!("(bucket id {bucket_id})"));
            format!("object {bucket}/{}", String::from_utf8_lossy(key))
        }
        Subject::Upload { upload_id } => {
            let hex: String = upload_id.iter().map(|b| format!("{b:02x}")).collect();
            format!("multipart upload {hex}")
        }
        Subject::Segment { shard, segment } => format!("segment {segment} of shard {shard}"),
        Subject::Accounting => "space accounting".to_string(),
    };
    format!("{subject}: {}", problem.detail)
}
