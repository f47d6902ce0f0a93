//! Quantised numbers and their text forms. Every number the world holds is
//! quantised to the precision at which it is rendered, so artifacts, checks and
//! queries agree to the last digit (environment.md §9).

use serde::{Serialize, Serializer};

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
    1e19, 1e20, 1e21, 1e22,
];

/// `x` rounded to `decimals` places (half away from zero); non-finite values pass through.
pub fn quantise(x: f64, decimals: usize) -> f64 {
    if !x.is_finite() {
        return x;
    }
    libm::round(x * POW10[decimals]) / POW10[decimals]
}

/// Fixed-point text, with `nan` / `inf` / `-inf` for non-finite values.
pub fn fixed(x: f64, decimals: usize) -> String {
    let mut s = String::with_capacity(12);
    push_fixed(&mut s, x, decimals);
    s
}

/// Appends `x` with `decimals` places (half away from zero) without going
/// through the float formatter: the hot path of log rendering.
pub fn push_fixed(out: &mut String, x: f64, decimals: usize) {
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    let scaled = libm::round(x.abs() * POW10[decimals]) as u64;
    let unit = POW10[decimals] as u64;
    if x < 0.0 && scaled != 0 {
        out.push('-');
    }
    push_u64(out, scaled / unit);
    if decimals > 0 {
        out.push('.');
        push_padded(out, scaled % unit, decimals);
    }
}

/// Appends an unsigned integer in decimal.
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).expect("ASCII digits"));
}

/// Appends `n` zero-padded to `width` digits.
pub fn push_padded(out: &mut String, n: u64, width: usize) {
    let mut digits = 1;
    let mut m = n;
    while m >= 10 {
        m /= 10;
        digits += 1;
    }
    for _ in digits..width {
        out.push('0');
    }
    push_u64(out, n);
}

/// A number as it appears in JSON artifacts, check measurements and query
/// values: finite values are JSON numbers, non-finite ones the strings "nan" / "inf".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Num(pub f64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() { s.serialize_f64(self.0) } else { s.serialize_str(&fixed(self.0, 0)) }
    }
}

/// A value with two significant digits, written `3.0e-04` (learning rates).
/// Held as mantissa digits and exponent so its f64 value is exactly the value
/// a parser reads back from the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sci2 {
    /// 10..=99: the two significant digits (0 for the value zero).
    pub digits: u8,
    pub exp: i8,
}

impl Sci2 {
    pub const ZERO: Sci2 = Sci2 { digits: 0, exp: 0 };

    /// Rounds a positive finite value to two significant digits.
    pub fn from_f64(x: f64) -> Sci2 {
        if x <= 0.0 || !x.is_finite() {
            return Sci2::ZERO;
        }
        let mut exp: i32 = 0;
        let mut m = x;
        while m >= 10.0 {
            m /= 10.0;
            exp += 1;
        }
        while m < 1.0 {
            m *= 10.0;
            exp -= 1;
        }
        let mut digits = libm::round(m * 10.0) as i32;
        if digits >= 100 {
            digits = 10;
            exp += 1;
        }
        Sci2 { digits: digits as u8, exp: exp as i8 }
    }

    pub fn value(self) -> f64 {
        let e = self.exp as i32 - 1;
        if e >= 0 {
            self.digits as f64 * POW10[e as usize]
        } else {
            self.digits as f64 / POW10[(-e) as usize]
        }
    }

    /// `3.0e-04`: a digit after the point and a signed two-digit exponent, so
    /// YAML 1.1 and 1.2 parsers both read a float.
    pub fn text(self) -> String {
        let sign = if self.exp < 0 { '-' } else { '+' };
        format!("{}.{}e{}{:02}", self.digits / 10, self.digits % 10, sign, self.exp.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sci2_round_trips_through_its_text() {
        for x in [3e-4, 0.1, 25.0, 99.4, 1e-6, 0.0029, 12.0, 9.96] {
            let s = Sci2::from_f64(x);
            let parsed: f64 = s.text().parse().unwrap();
            assert_eq!(parsed, s.value(), "{x} -> {}", s.text());
        }
        assert_eq!(Sci2::from_f64(3e-4).text(), "3.0e-04");
        assert_eq!(Sci2::from_f64(25.0).text(), "2.5e+01");
        assert_eq!(Sci2::from_f64(9.96).text(), "1.0e+01");
    }

    #[test]
    fn quantised_values_print_back_exactly() {
        let q = quantise(0.123456, 4);
        assert_eq!(fixed(q, 4), "0.1235");
        assert_eq!(fixed(q, 4).parse::<f64>().unwrap(), q);
        assert_eq!(serde_json::to_string(&Num(f64::NAN)).unwrap(), "\"nan\"");
        assert_eq!(serde_json::to_string(&Num(f64::INFINITY)).unwrap(), "\"inf\"");
        assert_eq!(serde_json::to_string(&Num(q)).unwrap(), "0.1235");
        for (x, d) in [(0.0, 4), (1.5, 1), (-0.25, 2), (123.456, 2), (-0.00001, 4), (0.05, 4), (2.0, 0)] {
            assert_eq!(fixed(x, d), format!("{:.*}", d, x).replace("-0.0000", "0.0000"), "{x} {d}");
        }
    }
}

/// Civil date and time (UTC) of a unix timestamp: (year, month, day, hour, minute, second).
pub fn civil(unix: u64) -> (u64, u64, u64, u64, u64, u64) {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Howard Hinnant's days-to-civil algorithm, for days since 1970-01-01 >= 0.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Writes `2026-03-14<sep>09:12:03Z` on the stack: the one formatter behind
/// the log's times and the observations' timestamps.
fn write_time(buf: &mut [u8; 20], unix: u64, sep: u8) -> &str {
    let (y, mo, d, h, mi, s) = civil(unix);
    let mut at = 0;
    for (value, width, after) in
        [(y, 4, b'-'), (mo, 2, b'-'), (d, 2, sep), (h, 2, b':'), (mi, 2, b':'), (s, 2, b'Z')]
    {
        let mut v = value;
        for i in (0..width).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        buf[at + width] = after;
        at += width + 1;
    }
    // only ASCII digits and separators were written
    std::str::from_utf8(&buf[..]).unwrap_or_default()
}

/// Appends `2026-03-14<sep>09:12:03`.
pub fn push_time(out: &mut String, unix: u64, sep: u8) {
    out.push_str(&write_time(&mut [0; 20], unix, sep)[..19]);
}

/// `2026-03-14T09:12:03Z`
pub fn iso_time(unix: u64) -> String {
    write_time(&mut [0; 20], unix, b'T').to_string()
}

/// A unix time that serialises as `2026-03-14T09:12:03Z`, formatted on the
/// stack (observations list six of them in every reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsoTime(pub u64);

impl serde::Serialize for IsoTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(write_time(&mut [0; 20], self.0, b'T'))
    }
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn civil_dates_match_known_instants() {
        assert_eq!(super::iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::iso_time(1_709_251_200), "2024-03-01T00:00:00Z");
        assert_eq!(super::iso_time(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(
            serde_json::to_string(&super::IsoTime(1_767_225_599)).unwrap(),
            "\"2025-12-31T23:59:59Z\""
        );
        let mut log = String::new();
        super::push_time(&mut log, 1_767_225_599, b' ');
        assert_eq!(log, "2025-12-31 23:59:59");
    }
}
