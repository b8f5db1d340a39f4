//! `maxiofs admin audit`: the server's audit log, filtered by time, actor
//! and action, through the admin API (`GET /api/v1/audit`).
//!
//! Owns: the audit query's flags (times checked to be RFC 3339 before
//! anything is sent), the request path, and the table. `--csv` asks the
//! server for its CSV and passes it on byte for byte.

use super::api::{api_path, with_query, ApiClient};
use super::client::Failure;
use super::output::{self, Output};

/// The table's columns; `--json` and `--csv` also carry `id` and `request_id`.
const AUDIT_COLUMNS: [(&str, &str); 7] = [
    ("Time", "time"),
    ("Actor", "actor"),
    ("Source", "source"),
    ("Action", "action"),
    ("Target", "target"),
    ("Outcome", "outcome"),
    ("Detail", "detail"),
];

/// `maxiofs admin audit`'s own flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AuditQuery {
    /// Entries from this time on (RFC 3339, such as 2026-12-06T17:00:00Z).
    #[arg(long, value_parser = parse_time, value_name = "RFC3339")]
    pub from: Option<String>,
    /// Entries up to this time (RFC 3339).
    #[arg(long, value_parser = parse_time, value_name = "RFC3339")]
    pub to: Option<String>,
    /// Only this actor's entries, written as the Actor column shows it.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only entries of this action, written as the Action column shows it.
    #[arg(long)]
    pub action: Option<String>,
    /// At most this many entries (the server's default is 100).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: Option<u32>,
    /// Print the server's CSV exactly as it comes: a header row, then one line
    /// per entry.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
}

pub fn run(client: &ApiClient, query: AuditQuery) -> Result<Output, Failure> {
    let path = audit_path(&query);
    if query.csv {
        return Ok(Output::Raw(client.get_raw(&path)?));
    }
    let answer = client.get(&path)?;
    let text = output::json_table(output::json_list(&answer, "entries"), &AUDIT_COLUMNS);
    Ok(Output::Shown { json: answer, text })
}

fn audit_path(query: &AuditQuery) -> String {
    with_query(
        api_path(&["audit"]),
        &[
            ("from", query.from.clone()),
            ("to", query.to.clone()),
            ("actor", query.actor.clone()),
            ("action", query.action.clone()),
            ("limit", query.limit.map(|limit| limit.to_string())),
            ("format", query.csv.then(|| "csv".to_owned())),
        ],
    )
}

/// Accepts an RFC 3339 date-time (`2026-12-06T17:00:00Z`, fractions of a
/// second and `+01:00` offsets too), so a typo is a usage error here rather
/// than a refusal after logging in.
fn parse_time(text: &str) -> Result<String, String> {
    if is_rfc3339(text.as_bytes()) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "expected an RFC 3339 time such as 2026-12-06T17:00:00Z, not {text:?}"
        ))
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` with fields in their ranges (a
/// day past its month's end is left to the server).
fn is_rfc3339(b: &[u8]) -> bool {
    let number = |at: usize, len: usize, max: u32| -> Option<u32> {
        let digits = b.get(at..at + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = digits
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        (value <= max).then_some(value)
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    let date_time_ok = number(0, 4, 9999).is_some()
        && at(4, b"-")
        && number(5, 2, 12).is_some_and(|month| month >= 1)
        && at(7, b"-")
        && number(8, 2, 31).is_some_and(|day| day >= 1)
        && at(10, b"Tt")
        && number(11, 2, 23).is_some()
        && at(13, b":")
        && number(14, 2, 59).is_some()
        && at(16, b":")
        // 60: a leap second.
        && number(17, 2, 60).is_some();
    if !date_time_ok {
        return false;
    }
    let mut i = 19;
    if at(i, b".") {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        i += 1 + digits;
    }
    match &b[i..] {
        b"Z" | b"z" => true,
        [sign, ..] if b"+-".contains(sign) && b.len() == i + 6 => {
            number(i + 1, 2, 23).is_some() && at(i + 3, b":") && number(i + 4, 2, 59).is_some()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_must_be_rfc3339() {
        for good in [
            "2026-12-06T17:00:00Z",
            "2026-12-06t17:00:00z",
            "2026-12-06T17:00:00.123456Z",
            "2026-12-06T17:00:00+01:00",
            "2026-12-06T17:00:00.5-05:30",
            "2016-12-31T23:59:60Z",
        ] {
            assert_eq!(parse_time(good).as_deref(), Ok(good), "{good}");
        }
        for bad in [
            "",
            "2026-12-06",
            "2026-12-06 17:00:00Z",
            "2026-12-06T17:00:00",
            "2026-13-06T17:00:00Z",
            "2026-12-00T17:00:00Z",
            "2026-12-06T24:00:00Z",
            "2026-12-06T17:00:00.Z",
            "2026-12-06T17:00:00+0100",
            "2026-12-06T17:00:00+01:00x",
            "yesterday",
            "2026-12-06T17:00:00ZZ",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn audit_path_carries_the_filters_given() {
        assert_eq!(audit_path(&AuditQuery::default()), "/api/v1/audit");
        let query = AuditQuery {
            from: Some("2026-12-06T17:00:00+01:00".into()),
            actor: Some("acme/alice".into()),
            limit: Some(500),
            csv: true,
            ..AuditQuery::default()
        };
        assert_eq!(
            audit_path(&query),
            "/api/v1/audit?from=2026-12-06T17%3A00%3A00%2B01%3A00&actor=acme%2Falice\
             &limit=500&format=csv"
        );
    }
}
