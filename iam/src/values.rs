//! Typed condition values: ISO 8601 dates and epoch seconds, IPv4/IPv6 ranges, base64
//! and booleans, read the way AWS's condition operators read them.

use std::net::IpAddr;

/// Milliseconds since 1970-01-01T00:00:00Z.
pub(crate) type EpochMillis = i64;

/// Reads an epoch in seconds (`1356998400`) or an ISO 8601 date or date-time:
/// `2013-06-30`, `2013-06-30T00:00:00Z`, `2013-06-30T00:00Z`, fractions of seconds and
/// `+hh:mm` offsets; a date-time without zone is UTC.
pub(crate) fn parse_date(text: &str) -> Option<EpochMillis> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok()?.checked_mul(1000);
    }
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let year = digits(0..4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(5..7)?;
    let day = digits(8..10)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut millis = days_from_civil(year, month, day) * 86_400_000;
    if b.len() == 10 {
        return Some(millis);
    }
    if b[10] != b'T' && b[10] != b't' {
        return None;
    }
    let hour = digits(11..13)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits(14..16)?;
    let mut at = 16;
    let mut second = 0;
    let mut fraction_ms = 0;
    if b.get(at) == Some(&b':') {
        second = digits(at + 1..at + 3)?;
        at += 3;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            if at == start {
                return None;
            }
            let ms_digits = &text[start..(start + 3).min(at)];
            fraction_ms = ms_digits.parse::<i64>().ok()? * 10i64.pow(3 - ms_digits.len() as u32);
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let offset_minutes = match &text[at..] {
        "" | "Z" | "z" => 0,
        zone => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let zb = zone.as_bytes();
            let hh = std::str::from_utf8(zb.get(1..3)?)
                .ok()?
                .parse::<i64>()
                .ok()?;
            let mm = match zb.len() {
                3 => 0,
                6 if zb[3] == b':' => std::str::from_utf8(&zb[4..6]).ok()?.parse::<i64>().ok()?,
                5 => std::str::from_utf8(&zb[3..5]).ok()?.parse::<i64>().ok()?,
                _ => return None,
            };
            sign * (hh * 60 + mm)
        }
    };
    millis += ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000 + fraction_ms;
    Some(millis)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `aws:CurrentTime`'s form: `2024-01-31T12:00:00Z`.
pub(crate) fn format_iso8601(now_ms: u64) -> String {
    let seconds = (now_ms / 1000) as i64;
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// An address range: `203.0.113.0/24`, `2001:DB8:1234:5678::/64`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpRange {
    pub address: IpAddr,
    pub prefix_len: u8,
}

impl IpRange {
    pub(crate) fn parse(text: &str) -> Option<IpRange> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().ok()?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (prefix_len <= max).then_some(IpRange {
            address,
            prefix_len,
        })
    }

    pub(crate) fn contains(&self, address: &IpAddr) -> bool {
        // An IPv4 client seen through an IPv6 socket compares as IPv4.
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(*address),
            v4 => *v4,
        };
        match (self.address, address) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Standard base64 with padding, as AWS writes binary condition values.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let bytes = text.trim().as_bytes();
    if !bytes.chunks_exact(4).remainder().is_empty() {
        return None;
    }
    let sextet = |b: u8| -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.len() / 4;
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let padding = chunk.iter().rev().take_while(|&&b| b == b'=').count();
        if padding > 2 || (padding > 0 && i + 1 != chunks) {
            return None;
        }
        let mut word = 0u32;
        for &b in &chunk[..4 - padding] {
            word = word << 6 | sextet(b)?;
        }
        word <<= 6 * padding as u32;
        let decoded = [(word >> 16) as u8, (word >> 8) as u8, word as u8];
        out.extend_from_slice(&decoded[..3 - padding]);
    }
    Some(out)
}

/// `true` / `false` in any case, as AWS's Bool operator reads them.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A number for the Numeric operators: integers and decimals.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let valid = !text.is_empty()
        && text.bytes().all(|b| {
            b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+' || b == b'e' || b == b'E'
        });
    if !valid {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let cases = [
            ("2013-06-30", Some(1_372_550_400_000)),
            ("2013-06-30T00:00:00Z", Some(1_372_550_400_000)),
            ("2013-06-30T00:00Z", Some(1_372_550_400_000)),
            ("2013-06-30T01:00:00+01:00", Some(1_372_550_400_000)),
            ("2013-06-29T23:00:00-0100", Some(1_372_550_400_000)),
            ("2013-06-30T00:00:00.250Z", Some(1_372_550_400_250)),
            ("2013-06-30T00:00:00.5Z", Some(1_372_550_400_500)),
            ("1372550400", Some(1_372_550_400_000)),
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2020-02-29", Some(1_582_934_400_000)),
            ("2019-02-29", None),
            ("2013-13-01", None),
            ("2013-06-30T24:00:00Z", None),
            ("June 30", None),
            ("2013-06-30X", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_date(text), expected, "{text}");
        }
    }

    #[test]
    fn formats_current_time() {
        assert_eq!(format_iso8601(1_372_550_400_000), "2013-06-30T00:00:00Z");
        assert_eq!(format_iso8601(1_709_210_096_789), "2024-02-29T12:34:56Z");
        assert_eq!(
            parse_date(&format_iso8601(1_709_210_096_000)),
            Some(1_709_210_096_000)
        );
    }

    #[test]
    fn ip_ranges() {
        let range = IpRange::parse("203.0.113.0/24").unwrap();
        assert!(range.contains(&"203.0.113.77".parse().unwrap()));
        assert!(!range.contains(&"203.0.114.1".parse().unwrap()));
        assert!(range.contains(&"::ffff:203.0.113.9".parse().unwrap()));
        let v6 = IpRange::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(v6.contains(&"2001:db8:1234:5678:abcd::1".parse().unwrap()));
        assert!(!v6.contains(&"2001:db8:1234:5679::1".parse().unwrap()));
        assert!(!v6.contains(&"203.0.113.77".parse().unwrap()));
        let all = IpRange::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(&"8.8.8.8".parse().unwrap()));
        let one = IpRange::parse("192.0.2.1").unwrap();
        assert_eq!(one.prefix_len, 32);
        assert!(one.contains(&"192.0.2.1".parse().unwrap()));
        assert!(!one.contains(&"192.0.2.2".parse().unwrap()));
        for bad in [
            "203.0.113.0/33",
            "203.0.113/24",
            "x",
            "::/129",
            "1.2.3.4/",
            "1.2.3.4/a",
        ] {
            assert!(IpRange::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn base64() {
        assert_eq!(decode_base64("QmluYXJ5VmFsdWU=").unwrap(), b"BinaryValue");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("").unwrap(), b"");
        for bad in ["YWJ", "Y===", "YQ==YWJj", "YW*j"] {
            assert!(decode_base64(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn numbers_and_bools() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-2.5"), Some(-2.5));
        assert_eq!(parse_number("ten"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }
}
