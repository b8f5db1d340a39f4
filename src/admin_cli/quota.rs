//! `maxiofs admin quota get|set BUCKET`: a bucket's quota and what it uses,
//! through the admin API (`GET /api/v1/buckets/{name}`, `PUT …/quota`).
//!
//! Owns: the limit values of the command line (`Limit`: a number, sizes
//! with a unit such as `10GiB`, or `none` for unlimited), shared with
//! `tenant create|update`, and the Used/Quota table both print. Tenant
//! quotas themselves are `tenants`'.

use clap::{ArgGroup, Subcommand};
use serde_json::{json, Value};

use super::api::{api_path, ApiClient};
use super::client::Failure;
use super::output::{self, Output, Table};

/// What `none` is written as on the command line: no limit.
const LIMIT_NONE: &str = "none";
/// Size units a limit may carry, with their bytes: decimal as disk makers
/// count, binary as `ls -h` does. Matched without regard to case.
const SIZE_UNITS: [(&str, u64); 11] = [
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("pb", 1_000_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("pib", 1 << 50),
];

/// A limit given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// At most this many bytes, objects, buckets, keys or bytes per second.
    Max(u64),
    /// No limit (`none`), sent as JSON `null`.
    Unlimited,
}

impl Limit {
    pub fn json(self) -> Value {
        match self {
            Limit::Max(value) => Value::from(value),
            Limit::Unlimited => Value::Null,
        }
    }
}

/// A size limit: `none`, bytes, or a whole number with a unit (`500MB`,
/// `10GiB`, `10 GiB`).
pub fn parse_limit_bytes(text: &str) -> Result<Limit, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case(LIMIT_NONE) {
        return Ok(Limit::Unlimited);
    }
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let unit = unit.trim().to_ascii_lowercase();
    let multiplier = if unit.is_empty() {
        Some(1)
    } else {
        SIZE_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, bytes)| *bytes)
    };
    let value = digits.parse::<u64>().ok();
    match (value, multiplier) {
        (Some(value), Some(multiplier)) => value
            .checked_mul(multiplier)
            .map(Limit::Max)
            .ok_or_else(|| format!("{text} is more bytes than a 64-bit count holds")),
        _ => Err(format!(
            "expected `none` or a whole number of bytes, optionally with a unit \
             (KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB), not {text:?}"
        )),
    }
}

/// A count limit: `none` or a whole number.
pub fn parse_limit_count(text: &str) -> Result<Limit, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case(LIMIT_NONE) {
        return Ok(Limit::Unlimited);
    }
    text.parse::<u64>()
        .map(Limit::Max)
        .map_err(|_| format!("expected `none` or a whole number, not {text:?}"))
}

/// The value a limit field takes after an update: the given limit, else the
/// current value (so a field not mentioned keeps its limit whether the
/// server replaces or merges the object it is sent), else unlimited.
pub fn merged_limit(given: Option<Limit>, current: Option<&Value>, field: &str) -> Value {
    match given {
        Some(limit) => limit.json(),
        None => current
            .and_then(|object| object.get(field))
            .cloned()
            .unwrap_or(Value::Null),
    }
}

#[derive(Subcommand, Debug)]
pub enum QuotaCommand {
    /// Show a bucket's quota and what it uses.
    Get {
        /// The bucket's name.
        bucket: String,
    },
    /// Set a bucket's quota. A limit not given keeps its current value; `none`
    /// removes one. A tenant's quota is set with `tenant update`.
    #[command(group(ArgGroup::new("limit").required(true).multiple(true)
        .args(["storage_bytes", "objects"])))]
    Set {
        /// The bucket's name.
        bucket: String,
        /// Bytes the bucket's objects may hold (`10GiB`, or `none`).
        #[arg(long, value_parser = parse_limit_bytes, value_name = "BYTES|none")]
        storage_bytes: Option<Limit>,
        /// Objects the bucket may hold (or `none`).
        #[arg(long, value_parser = parse_limit_count, value_name = "N|none")]
        objects: Option<Limit>,
    },
}

pub fn run(client: &ApiClient, command: QuotaCommand) -> Result<Output, Failure> {
    match command {
        QuotaCommand::Get { bucket } => {
            let answer = client.get(&api_path(&["buckets", &bucket]))?;
            Ok(bucket_output(answer))
        }
        QuotaCommand::Set {
            bucket,
            storage_bytes,
            objects,
        } => {
            let current = client.get(&api_path(&["buckets", &bucket]))?;
            let body = bucket_quota_body(current.get("quota"), storage_bytes, objects);
            let answer = client.put(&api_path(&["buckets", &bucket, "quota"]), &body)?;
            Ok(bucket_output(answer))
        }
    }
}

/// The body of `PUT /api/v1/buckets/{name}/quota`: both limits, always.
pub fn bucket_quota_body(
    current: Option<&Value>,
    storage_bytes: Option<Limit>,
    objects: Option<Limit>,
) -> Value {
    json!({
        "storage_bytes": merged_limit(storage_bytes, current, "storage_bytes"),
        "objects": merged_limit(objects, current, "objects"),
    })
}

/// A Used/Quota table; rows are (resource, used, quota) already as text.
pub fn usage_table(rows: &[(&str, String, String)]) -> String {
    let mut table = Table::new(&["Resource", "Used", "Quota"]);
    for (resource, used, quota) in rows {
        table.push(vec![(*resource).to_owned(), used.clone(), quota.clone()]);
    }
    table.render()
}

/// A Bucket answer: its names, then what it uses against its quota.
fn bucket_output(bucket: Value) -> Output {
    let usage = bucket.get("usage");
    let quota = bucket.get("quota");
    let used =
        |field: &str, is_size: bool| output::amount_text(usage.and_then(|u| u.get(field)), is_size);
    let limit =
        |field: &str, is_size: bool| output::limit_text(quota.and_then(|q| q.get(field)), is_size);
    let mut text = output::fields_text(&[
        ("Name", output::cell(bucket.get("name"))),
        ("Tenant", output::cell(bucket.get("tenant"))),
        ("CreatedAt", output::cell(bucket.get("created_at"))),
    ]);
    text.push('\n');
    text.push_str(&usage_table(&[
        (
            "Storage",
            used("storage_bytes", true),
            limit("storage_bytes", true),
        ),
        ("Objects", used("objects", false), limit("objects", false)),
        ("Stored", used("stored_bytes", true), String::new()),
        ("Versions", used("versions", false), String::new()),
        ("Multipart", used("multipart_bytes", true), String::new()),
    ]));
    Output::Shown { json: bucket, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_as_numbers_sizes_or_none() {
        assert_eq!(parse_limit_bytes("1024"), Ok(Limit::Max(1024)));
        assert_eq!(parse_limit_bytes("10GiB"), Ok(Limit::Max(10 << 30)));
        assert_eq!(parse_limit_bytes("10 gib"), Ok(Limit::Max(10 << 30)));
        assert_eq!(parse_limit_bytes("500MB"), Ok(Limit::Max(500_000_000)));
        assert_eq!(parse_limit_bytes("7B"), Ok(Limit::Max(7)));
        assert_eq!(parse_limit_bytes("none"), Ok(Limit::Unlimited));
        assert_eq!(parse_limit_bytes("NONE"), Ok(Limit::Unlimited));
        for bad in ["", "-1", "1.5GiB", "10G", "GiB", "99999999PiB", "ten"] {
            assert!(parse_limit_bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_limit_count("0"), Ok(Limit::Max(0)));
        assert_eq!(parse_limit_count("none"), Ok(Limit::Unlimited));
        for bad in ["", "-1", "1k", "1e3"] {
            assert!(parse_limit_count(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bucket_quota_body_keeps_limits_not_given() {
        let current = json!({"storage_bytes": 1000, "objects": 5});
        assert_eq!(
            bucket_quota_body(Some(&current), Some(Limit::Max(2000)), None),
            json!({"storage_bytes": 2000, "objects": 5})
        );
        assert_eq!(
            bucket_quota_body(Some(&current), None, Some(Limit::Unlimited)),
            json!({"storage_bytes": 1000, "objects": null})
        );
        assert_eq!(
            bucket_quota_body(None, Some(Limit::Max(1)), None),
            json!({"storage_bytes": 1, "objects": null})
        );
    }

    #[test]
    fn bucket_shows_usage_against_quota() {
        let bucket = json!({
            "name": "b1", "tenant": "acme", "created_at": "2026-12-06T17:00:00Z",
            "quota": {"storage_bytes": 10737418240u64, "objects": null},
            "usage": {"storage_bytes": 1536, "stored_bytes": 1024, "objects": 3,
                      "versions": 4, "multipart_bytes": 0},
        });
        let Output::Shown { json, text } = bucket_output(bucket.clone()) else {
            panic!("nothing shown");
        };
        assert_eq!(json, bucket, "--json prints the server's answer");
        assert_eq!(
            text,
            "Name       b1\n\
             Tenant     acme\n\
             CreatedAt  2026-12-06T17:00:00Z\n\
             \n\
             Resource   Used            Quota\n\
             Storage    1.5 KiB (1536)  10 GiB (10737418240)\n\
             Objects    3               unlimited\n\
             Stored     1 KiB (1024)\n\
             Versions   4\n\
             Multipart  0 B\n"
        );
    }
}
