//! The offline commands on a stopped server's data directory: `maxiofs check`
//! (the integrity check: takes the data directory's lock so it never races a
//! server, runs the engine's per-shard check, names buckets from the catalog,
//! prints what it found and, with `--repair`, what it dropped) and
//! `maxiofs admin rotate-key`.

use std::collections::HashMap;

use cluster::catalog::{Catalog, CATALOG_FILE};
use engine::check::{Problem, ShardCheck, Subject};

use crate::master_key::{self, KeySource};
use crate::server::{lock_data_dir, open_indexes, SETTING_SHARD_COUNT};
use crate::{CheckArgs, KeyArgs};

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
    let source = KeySource {
        data_dir: &args.data_dir,
        master_key_file: args.master_key_file.as_deref(),
    };
    let master = master_key::find_existing(&source)?;
    if master.is_none() {
        println!("no master key found: encrypted chunks are verified by checksum only");
    }
    let indexes = open_indexes(&args.data_dir, shard_count)?;
    let mut problems_left = 0usize;
    for (shard, index) in indexes.iter().enumerate() {
        let shard = shard as u16;
        let total_entries: u64 = index
            .bucket_usages()
            .map(|usages| {
                usages
                    .iter()
                    .map(|(_, u)| u.objects + u.delete_markers + u.upload_parts)
                    .sum()
            })
            .unwrap_or(0);
        let mut progress =
            crate::progress::Progress::new(format!("check shard {shard}"), total_entries);
        let check = index
            .check_with_progress(&args.data_dir, shard, master.as_ref(), &mut |so_far| {
                progress.update(so_far.objects + so_far.parts, so_far.payload_bytes_verified)
            })
            .map_err(|err| format!("shard {shard}: {err}"))?;
        progress.finish();
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
        "shard {shard}: {} objects, {} multipart parts, {} chunks, {:.1} MiB verified, \
         {} encrypted chunk tags verified, {} encrypted chunks checksum-only, {} problem(s)",
        check.objects,
        check.parts,
        check.extents,
        check.payload_bytes_verified as f64 / MIB_BYTES,
        check.tags_verified,
        check.tags_unverifiable,
        check.problems.len()
    );
}

/// `maxiofs admin rotate-key`.
pub fn rotate_key(args: &KeyArgs) -> Result<(), String> {
    if !args.data_dir.join(CATALOG_FILE).exists() {
        return Err(format!(
            "{} is not a maxiofs data directory",
            args.data_dir.display()
        ));
    }
    let _lock = lock_data_dir(&args.data_dir)?;
    let catalog = Catalog::open(&args.data_dir).map_err(|err| err.to_string())?;
    let source = KeySource {
        data_dir: &args.data_dir,
        master_key_file: args.master_key_file.as_deref(),
    };
    let rotated = master_key::rotate(&source, &catalog)?;
    println!(
        "master key {} is now current; earlier key(s) {} stay in {} to read older objects.",
        rotated.id(),
        rotated.previous_ids().join(", "),
        master_key::key_file_display(&source)
    );
    println!(
        "Back up the key file now. On its next start the server re-wraps older data keys \
         under the new key and logs \"re-wrap complete\"; only then may earlier keys be removed."
    );
    Ok(())
}

fn describe(problem: &Problem, bucket_names: &HashMap<u64, String>) -> String {
    let subject = match &problem.subject {
        Subject::Object {
            bucket_id,
            key,
            index_key,
        } => {
            let bucket = bucket_names
                .get(bucket_id)
                .cloned()
                .unwrap_or_else(|| format!("(bucket id {bucket_id})"));
            let inv = u64::from_be_bytes(
                index_key[index_key.len() - 8..]
                    .try_into()
                    .unwrap_or_default(),
            );
            let version = match inv {
                0 => String::new(),
                inv => format!(" (version {:016x})", u64::MAX - inv),
            };
            format!("object {bucket}/{}{version}", String::from_utf8_lossy(key))
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
