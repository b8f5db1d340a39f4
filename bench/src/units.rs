//! Parsing of human-friendly sizes (`4KiB`, `1MiB`, `5MB`, `1048576`) and durations
//! (`5s`, `500ms`, `2m`) given on the command line.

use std::time::Duration;

/// Parses a byte count: a decimal number with an optional unit. Binary units are
/// `KiB`, `MiB`, `GiB` (and `K`, `M`, `G`); decimal ones `KB`, `MB`, `GB`; `B` is bytes.
pub fn parse_size_bytes(text: &str) -> Result<u64, String> {
    let (number, unit) = split_number(text)?;
    let multiplier: u64 = match unit {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(format!("unknown size unit {unit:?} in {text:?}")),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// Object sizes of a run: one size, or uniformly random in `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRange {
    pub min_bytes: u64,
    pub max_bytes: u64,
}

impl SizeRange {
    pub fn is_fixed(&self) -> bool {
        self.min_bytes == self.max_bytes
    }
}

impl std::fmt::Display for SizeRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.is_fixed() {
            true => write!(f, "{}", self.min_bytes),
            false => write!(f, "{}..{}", self.min_bytes, self.max_bytes),
        }
    }
}

/// Parses `1MiB` (fixed) or `256KiB..8MiB` (uniform between the two, inclusive).
pub fn parse_size_range(text: &str) -> Result<SizeRange, String> {
    let (min_bytes, max_bytes) = match text.split_once("..") {
        Some((min, max)) => (parse_size_bytes(min)?, parse_size_bytes(max)?),
        None => {
            let size = parse_size_bytes(text)?;
            (size, size)
        }
    };
    if min_bytes > max_bytes {
        return Err(format!("size range {text:?} runs backwards"));
    }
    Ok(SizeRange {
        min_bytes,
        max_bytes,
    })
}

/// Parses a duration: a decimal number with unit `ms`, `s` or `m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(text)?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" | "min" => Duration::from_secs(number.saturating_mul(60)),
        "" => return Err(format!("duration {text:?} needs a unit: ms, s or m")),
        _ => return Err(format!("unknown duration unit {unit:?} in {text:?}")),
    };
    if duration.is_zero() {
        return Err(format!("duration {text:?} must be positive"));
    }
    Ok(duration)
}

/// Splits `123KiB` into (123, "KiB").
fn split_number(text: &str) -> Result<(u64, &str), String> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if digits_end == 0 {
        return Err(format!("{text:?} must start with a number"));
    }
    let number = text[..digits_end]
        .parse()
        .map_err(|_| format!("number in {text:?} is too large"))?;
    Ok((number, text[digits_end..].trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_binary_decimal_and_plain() {
        assert_eq!(parse_size_bytes("4KiB"), Ok(4096));
        assert_eq!(parse_size_bytes("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_size_bytes("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size_bytes("5MB"), Ok(5_000_000));
        assert_eq!(parse_size_bytes("0"), Ok(0));
        assert!(parse_size_bytes("MiB").is_err());
        assert!(parse_size_bytes("4XB").is_err());
        assert!(parse_size_bytes("99999999999999GiB").is_err());
    }

    #[test]
    fn size_ranges_parse() {
        let fixed = parse_size_range("1MiB").unwrap();
        assert!(fixed.is_fixed() && fixed.max_bytes == 1 << 20);
        let range = parse_size_range("256KiB..8MiB").unwrap();
        assert_eq!((range.min_bytes, range.max_bytes), (256 << 10, 8 << 20));
        assert_eq!(range.to_string(), "262144..8388608");
        assert!(parse_size_range("8MiB..1MiB").is_err());
        assert!(parse_size_range("1KB..").is_err());
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1h").is_err());
    }
}
