//! When the server's TLS certificate expires: the `notAfter` of the first
//! certificate of the PEM chain, read with a small DER walk (the certificate
//! is trusted input, our own file; the walk still checks every length).

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// Milliseconds since the epoch at which the first certificate of the PEM
/// file at `path` stops being valid.
pub fn not_after_ms(path: &Path) -> Result<u64, String> {
    let shown = path.display();
    let certificate = CertificateDer::pem_file_iter(path)
        .map_err(|err| format!("{shown}: {err}"))?
        .next()
        .ok_or_else(|| format!("{shown}: no CERTIFICATE block"))?
        .map_err(|err| format!("{shown}: {err}"))?;
    not_after_ms_of_der(certificate.as_ref())
        .ok_or_else(|| format!("{shown}: not an X.509 certificate"))
}

/// One DER element: (tag, contents, the rest after it).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |len, &byte| (len << 8) | usize::from(byte));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// `notAfter` of a DER certificate, in milliseconds since the epoch.
pub fn not_after_ms_of_der(der: &[u8]) -> Option<u64> {
    let (SEQUENCE, certificate, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(certificate)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, after) = element(rest)?;
    if tag == VERSION {
        rest = after;
    }
    // Serial number, signature algorithm, issuer.
    for _ in 0..3 {
        rest = element(rest)?.2;
    }
    let (SEQUENCE, validity, _) = element(rest)? else {
        return None;
    };
    let (_, _, after_not_before) = element(validity)?;
    let (tag, time, _) = element(after_not_before)?;
    let text = std::str::from_utf8(time).ok()?;
    let digits = text.strip_suffix('Z')?;
    let (year, rest) = match tag {
        UTC_TIME if digits.len() == 12 => {
            let yy: u64 = digits[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        GENERALIZED_TIME if digits.len() == 14 => (digits[..4].parse().ok()?, &digits[4..]),
        _ => return None,
    };
    let field = |at: usize| -> Option<u64> { rest.get(at..at + 2)?.parse().ok() };
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    Some(((days * 86_400) + hour * 3600 + minute * 60 + second) * 1000)
}

/// Days since 1970-01-01 of a Gregorian date (years from 1970 on).
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_not_after_of_a_generated_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 3, 15);
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = params.self_signed(&key).unwrap();
        // 2031-03-15T00:00:00Z.
        assert_eq!(
            not_after_ms_of_der(certificate.der()),
            Some(1_931_299_200_000)
        );
        let dir = std::env::temp_dir().join(format!("maxiofs-cert-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cert.pem");
        std::fs::write(&path, certificate.pem()).unwrap();
        assert_eq!(not_after_ms(&path), Ok(1_931_299_200_000));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn garbage_is_refused_not_misread() {
        assert_eq!(not_after_ms_of_der(&[]), None);
        assert_eq!(not_after_ms_of_der(&[0x30, 0x82, 0xff, 0xff, 0x00]), None);
        assert_eq!(not_after_ms_of_der(b"0\x03\x02\x01\x01"), None);
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
    }
}
