//! Pure parsers for flag values: port lists, durations, counts, `K=V` pairs.
//!
//! Each returns a typed value or a [`ParseError`] saying what is wrong in words a user
//! can act on; none touches the environment. Every parser has a fuzz target.

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Why a flag value was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

/// A set of TCP/UDP ports: every port, or a sorted list of disjoint, non-adjacent
/// inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PortSet {
    /// No port at all (the default for bind).
    #[default]
    None,
    /// Every port (`*`).
    Any,
    /// These ranges, sorted, merged, non-empty.
    Ranges(Vec<RangeInclusive<u16>>),
}

impl PortSet {
    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        match self {
            PortSet::None => false,
            PortSet::Any => true,
            PortSet::Ranges(r) => r.iter().any(|r| r.contains(&port)),
        }
    }

    /// The union of two sets.
    pub fn union(self, other: PortSet) -> PortSet {
        match (self, other) {
            (PortSet::Any, _) | (_, PortSet::Any) => PortSet::Any,
            (PortSet::None, x) | (x, PortSet::None) => x,
            (PortSet::Ranges(mut a), PortSet::Ranges(b)) => {
                a.extend(b);
                PortSet::Ranges(merge(a))
            }
        }
    }

    /// Every port of the set, in ascending order (`Any` yields all 65536).
    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        let ranges: &[RangeInclusive<u16>] = match self {
            PortSet::None => &[],
            PortSet::Any => &[0..=u16::MAX],
            PortSet::Ranges(r) => r,
        };
        ranges.iter().flat_map(|r| r.clone())
    }
}

impl std::str::FromStr for PortSet {
    type Err = ParseError;
    /// [`parse_ports`].
    fn from_str(s: &str) -> Result<PortSet, ParseError> {
        parse_ports(s)
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSet::None => f.write_str("none"),
            PortSet::Any => f.write_str("*"),
            PortSet::Ranges(ranges) => {
                for (i, r) in ranges.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    if r.start() == r.end() {
                        write!(f, "{}", r.start())?;
                    } else {
                        write!(f, "{}-{}", r.start(), r.end())?;
                    }
                }
                Ok(())
            }
        }
    }
}

fn merge(ranges: Vec<RangeInclusive<u16>>) -> Vec<RangeInclusive<u16>> {
    let mut pairs: Vec<(u16, u16)> = ranges.iter().map(|r| (*r.start(), *r.end())).collect();
    sort_unique(&mut pairs);
    let mut out: Vec<RangeInclusive<u16>> = Vec::with_capacity(pairs.len());
    for (start, end) in pairs {
        match out.last_mut() {
            Some(last) if u32::from(start) <= u32::from(*last.end()) + 1 => {
                if end > *last.end() {
                    *last = *last.start()..=end;
                }
            }
            _ => out.push(start..=end),
        }
    }
    out
}

fn parse_port(s: &str) -> Result<u16, ParseError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return err(format!("'{s}' is not a port number"));
    }
    match s.parse::<u32>() {
        Ok(n) if n <= u32::from(u16::MAX) => Ok(n as u16),
        _ => err(format!("port {s} is out of range (0-65535)")),
    }
}

/// Parses `*` or a comma-separated list of ports and `LOW-HIGH` ranges
/// (`8080,9000-9005`).
pub fn parse_ports(s: &str) -> Result<PortSet, ParseError> {
    if s == "*" {
        return Ok(PortSet::Any);
    }
    if s.is_empty() {
        return err("empty port list (give ports like 8080,9000-9005, or *)");
    }
    let mut ranges = Vec::new();
    for item in s.split(',') {
        if item == "*" {
            return err("'*' cannot be mixed with port numbers");
        }
        let range = match item.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (parse_port(lo)?, parse_port(hi)?);
                if lo > hi {
                    return err(format!("range {item} is backwards (low-high)"));
                }
                lo..=hi
            }
            None => {
                let p = parse_port(item)?;
                p..=p
            }
        };
        ranges.push(range);
    }
    Ok(PortSet::Ranges(merge(ranges)))
}

/// The longest accepted duration: far beyond any sensible timeout, far below overflow.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses a positive duration: a decimal number of seconds, optionally suffixed `ms`,
/// `s`, `m` or `h` (`30`, `1.5`, `250ms`, `2m`). Exact to the nanosecond (fixed point,
/// digits past the nanosecond are dropped).
pub fn parse_duration(s: &str) -> Result<Duration, ParseError> {
    let (num, nanos_per_unit) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1_000_000u128)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1_000_000_000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000_000_000)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600_000_000_000)
    } else {
        (s, 1_000_000_000)
    };
    let Some(value) = Decimal::parse(num) else {
        return err(format!(
            "'{s}' is not a duration (seconds, e.g. 30, 1.5, 250ms, 2m, 1h)"
        ));
    };
    let nanos = value.times(nanos_per_unit);
    if value.is_zero() {
        return err(format!("duration '{s}' must be greater than zero"));
    }
    match nanos {
        Some(n) if n > MAX_DURATION.as_nanos() => {
            err(format!("duration '{s}' is longer than a year"))
        }
        None => err(format!("duration '{s}' is longer than a year")),
        Some(0) => err(format!("duration '{s}' is shorter than a nanosecond")),
        Some(n) => Ok(Duration::new(
            (n / 1_000_000_000) as u64,
            (n % 1_000_000_000) as u32,
        )),
    }
}

/// Writes a duration as a decimal number of seconds, exactly (`0.5`, `30`, `1.25`).
pub fn format_secs(d: Duration) -> String {
    let nanos = d.subsec_nanos();
    if nanos == 0 {
        return d.as_secs().to_string();
    }
    let frac = format!("{nanos:09}");
    format!("{}.{}", d.as_secs(), frac.trim_end_matches('0'))
}

/// A non-negative decimal number read exactly: `digits / 10^scale`.
struct Decimal {
    digits: u128,
    scale: u32,
}

impl Decimal {
    /// Digits with at most one '.', at least one digit; no sign, exponent or spaces. Up
    /// to 20 integer digits; fraction digits past the 18th are dropped.
    fn parse(s: &str) -> Option<Decimal> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
            return None;
        }
        let int = int.trim_start_matches('0');
        if int.len() > 20 {
            return None;
        }
        let frac = &frac[..frac.len().min(18)];
        let digits = int
            .bytes()
            .chain(frac.bytes())
            .fold(0u128, |acc, b| acc * 10 + u128::from(b - b'0'));
        Some(Decimal {
            digits,
            scale: frac.len() as u32,
        })
    }

    fn is_zero(&self) -> bool {
        self.digits == 0
    }

    /// `self × unit`, rounded down; None when it does not fit.
    fn times(&self, unit: u128) -> Option<u128> {
        Some(self.digits.checked_mul(unit)? / 10u128.pow(self.scale))
    }
}

/// Sorts `items` and drops repeats. An insertion sort: the lists it serves (ports, CPUs,
/// paths from flags and small directories) are short and mostly in order already, and one
/// small routine per type keeps the binary small (the library sort is kilobytes each).
pub(crate) fn sort_unique<T: Ord>(items: &mut Vec<T>) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && items[j - 1] > items[j] {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
    items.dedup();
}

/// Parses a non-negative decimal count (`1024`).
pub fn parse_count(s: &str) -> Result<u64, ParseError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return err(format!("'{s}' is not a non-negative whole number"));
    }
    s.parse::<u64>()
        .map_err(|_| ParseError(format!("'{s}' is too large")))
}

/// Parses a memory size: a decimal number with an optional binary suffix `K`, `M`, `G`
/// or `T` (case-insensitive; `512K`, `64M`, `1.5G`, `1048576`). Must be at least a byte.
pub fn parse_size(s: &str) -> Result<u64, ParseError> {
    let (num, scale) = match s.as_bytes().last().map(u8::to_ascii_uppercase) {
        Some(b'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some(b'M') => (&s[..s.len() - 1], 1 << 20),
        Some(b'G') => (&s[..s.len() - 1], 1 << 30),
        Some(b'T') => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let value = Decimal::parse(num).filter(|_| !num.starts_with('.') && !num.ends_with('.'));
    let Some(value) = value else {
        return err(format!(
            "'{s}' is not a size (a number with an optional K, M, G or T suffix, e.g. 512K, 64M, 1.5G)"
        ));
    };
    match value.times(u128::from(scale)) {
        Some(0) => err(format!("size '{s}' must be at least one byte")),
        Some(bytes) if bytes < u128::from(u64::MAX) => Ok(bytes as u64),
        _ => err(format!("size '{s}' is too large")),
    }
}

/// Formats a byte count the way sizes are written on the command line (`64M`, `1.5G`).
pub fn format_size(bytes: u64) -> String {
    for (suffix, scale) in [
        ("T", 1u64 << 40),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ] {
        if bytes >= scale {
            if bytes % scale == 0 {
                return format!("{}{suffix}", bytes / scale);
            }
            // One decimal, rounded to nearest; down where rounding up would not fit a
            // u64 (the top of the range), so that the text always parses back.
            let (b, s) = (u128::from(bytes), u128::from(scale));
            let nearest = (b * 10 + s / 2) / s;
            let tenths = if nearest * s / 10 > u128::from(u64::MAX) {
                b * 10 / s
            } else {
                nearest
            };
            return format!("{}.{}{suffix}", tenths / 10, tenths % 10);
        }
    }
    format!("{bytes}")
}

/// Parses a sandbox name, used as its hostname: 1-64 letters, digits, '-' and '.', not
/// starting or ending with '-' or '.'.
pub fn parse_name(s: &str) -> Result<String, ParseError> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !s.starts_with(['-', '.'])
        && !s.ends_with(['-', '.']);
    if !ok {
        return err(format!(
            "'{s}' is not a valid name (1-64 letters, digits, '-' and '.', like a hostname)"
        ));
    }
    Ok(s.to_owned())
}

/// Parses an environment assignment `KEY=VALUE` (the value may be empty or contain `=`).
pub fn parse_env(s: &str) -> Result<(String, String), ParseError> {
    let Some((key, value)) = s.split_once('=') else {
        return err(format!("'{s}' is not KEY=VALUE"));
    };
    if key.is_empty() {
        return err(format!("'{s}' has an empty variable name"));
    }
    if s.contains('\0') {
        return err("an environment variable cannot contain a NUL byte");
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// Parses a wall-clock instant as nanoseconds since the Unix epoch: whole seconds since
/// the epoch (`946684800`), or RFC 3339 (`2000-01-01T00:00:00Z`, `...T12:30:00.5+02:00`;
/// `t`/`z`/space accepted as in the RFC's note). Instants before 1970 are refused.
pub fn parse_time_start(s: &str) -> Result<i64, ParseError> {
    if !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = s
            .parse()
            .map_err(|_| ParseError(format!("'{s}' is too large")))?;
        return secs
            .checked_mul(1_000_000_000)
            .ok_or_else(|| ParseError(format!("'{s}' is too large")));
    }
    let bad = || {
        ParseError(format!(
            "'{s}' is neither seconds since 1970 nor an RFC 3339 time like 2000-01-01T00:00:00Z"
        ))
    };
    let b = s.as_bytes();
    if b.len() < 20 || !s.is_ascii() {
        return Err(bad());
    }
    let num = |from: usize, len: usize| -> Result<i64, ParseError> {
        let part = &s[from..from + len];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let seps_ok = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !seps_ok {
        return Err(bad());
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut at = 19;
    let mut nanos = 0i64;
    if b[at] == b'.' {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err(bad());
        }
        for (i, &c) in b[at + 1..at + 1 + digits].iter().enumerate() {
            if i < 9 {
                nanos += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
            }
        }
        at += 1 + digits;
    }
    let offset = match &b[at..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(at + 1, 2)?, num(at + 4, 2)?);
            if h > 23 || m > 59 {
                return Err(bad());
            }
            let o = h * 3600 + m * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return Err(bad()),
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= days_in[(month - 1) as usize]
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !valid {
        return Err(bad());
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    if secs < 0 {
        return Err(ParseError(format!("'{s}' is before 1970")));
    }
    secs.checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(nanos))
        .ok_or_else(|| ParseError(format!("'{s}' is after 2262 (the clock's limit)")))
}

/// Highest CPU number a CPU list may name (`CPU_SETSIZE` - 1).
pub const CPU_MAX: usize = 1023;

/// Parses a CPU list: numbers and ranges, comma-separated (`0,2`, `0-3,8`), as the
/// sorted, de-duplicated CPU numbers.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, ParseError> {
    let cpu = |t: &str| -> Result<usize, ParseError> {
        if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return err(format!("'{t}' in '{s}' is not a CPU number"));
        }
        match t.parse::<usize>() {
            Ok(n) if n <= CPU_MAX => Ok(n),
            _ => err(format!("CPU {t} in '{s}' is above {CPU_MAX}")),
        }
    };
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (cpu(a)?, cpu(b)?);
                if a > b {
                    return err(format!("range '{part}' in '{s}' runs backwards"));
                }
                out.extend(a..=b);
            }
            None => out.push(cpu(part)?),
        }
    }
    sort_unique(&mut out);
    Ok(out)
}

/// Parses a CPU share in percent of one CPU, 1 to 100 (`25`).
pub fn parse_percent(s: &str) -> Result<u8, ParseError> {
    match parse_count(s) {
        Ok(n @ 1..=100) => Ok(n as u8),
        Ok(_) => err(format!("'{s}' is not between 1 and 100")),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_starts() {
        let ns = |secs: i64| secs * 1_000_000_000;
        assert_eq!(parse_time_start("0"), Ok(0));
        assert_eq!(parse_time_start("946684800"), Ok(ns(946_684_800)));
        assert_eq!(
            parse_time_start("2000-01-01T00:00:00Z"),
            Ok(ns(946_684_800))
        );
        assert_eq!(parse_time_start("1970-01-01t00:00:00z"), Ok(0));
        assert_eq!(
            parse_time_start("2000-03-01 00:00:00Z"),
            Ok(ns(951_868_800))
        );
        assert_eq!(
            parse_time_start("2024-02-29T12:00:00Z"),
            Ok(ns(1_709_208_000))
        );
        assert_eq!(
            parse_time_start("2000-01-01T02:00:00+02:00"),
            Ok(ns(946_684_800))
        );
        assert_eq!(
            parse_time_start("1999-12-31T23:00:00-01:00"),
            Ok(ns(946_684_800))
        );
        assert_eq!(
            parse_time_start("2262-04-11T23:47:16.854775807Z"),
            Ok(i64::MAX)
        );
        assert_eq!(
            parse_time_start("2000-01-01T00:00:00.25Z"),
            Ok(ns(946_684_800) + 250_000_000)
        );
        for bad in [
            "",
            "-1",
            "2000-01-01",
            "2000-01-01T00:00:00",
            "2000-13-01T00:00:00Z",
            "2001-02-29T00:00:00Z",
            "2000-01-01T24:00:00Z",
            "2000-01-01T00:00:00.Z",
            "2000-01-01T00:00:00+2:00",
            "1969-12-31T23:59:59Z",
            "2000-01-01T00:00:00Zjunk",
            "2000-01-01X00:00:00Z",
            "2262-04-11T23:47:16.854775808Z",
            "9999-12-31T23:59:59Z",
            "９９",
            "12345678901234567890",
        ] {
            assert!(parse_time_start(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cpu_lists_and_percents() {
        assert_eq!(parse_cpu_list("0"), Ok(vec![0]));
        assert_eq!(parse_cpu_list("2,0"), Ok(vec![0, 2]));
        assert_eq!(parse_cpu_list("0-3,2,8"), Ok(vec![0, 1, 2, 3, 8]));
        assert_eq!(parse_cpu_list("1023"), Ok(vec![1023]));
        for bad in [
            "", ",", "1,", "-1", "3-1", "1024", "a", "1-", "0x1", "1 ", "00000",
        ] {
            assert!(parse_cpu_list(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_percent("1"), Ok(1));
        assert_eq!(parse_percent("100"), Ok(100));
        for bad in ["0", "101", "", "25%", "-5", "2.5"] {
            assert!(parse_percent(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ports_single_list_and_ranges() {
        assert_eq!(parse_ports("8080"), Ok(PortSet::Ranges(vec![8080..=8080])));
        assert_eq!(
            parse_ports("9000-9005,8080,9006,1-1"),
            Ok(PortSet::Ranges(vec![1..=1, 8080..=8080, 9000..=9006]))
        );
        assert_eq!(parse_ports("*"), Ok(PortSet::Any));
        assert_eq!(
            parse_ports("0,65535"),
            Ok(PortSet::Ranges(vec![0..=0, 65535..=65535]))
        );
    }

    #[test]
    fn ports_rejects_garbage() {
        for bad in [
            "",
            ",",
            "80,",
            "a",
            "-1",
            "65536",
            "5-3",
            "1-2-3",
            "*,80",
            "80,*",
            " 80",
            "+80",
            "99999999999999999999",
            "1--2",
        ] {
            assert!(parse_ports(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ports_contains_union_and_display() {
        let a = parse_ports("10-20").unwrap();
        let b = parse_ports("21,30").unwrap();
        let u = a.union(b);
        assert_eq!(u.to_string(), "10-21,30");
        assert!(u.contains(15) && u.contains(21) && u.contains(30));
        assert!(!u.contains(22) && !u.contains(9));
        assert_eq!(u.ports().count(), 13);
        assert!(PortSet::None.union(PortSet::Any).contains(1));
        assert!(!PortSet::None.contains(1));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        // Exact, not through binary floating point.
        assert_eq!(parse_duration("0.1"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1.000000001"), Ok(Duration::new(1, 1)));
        assert_eq!(parse_duration("0.0015ms"), Ok(Duration::from_nanos(1500)));
        assert_eq!(
            parse_duration("8784h"),
            Ok(Duration::from_secs(366 * 24 * 3600))
        );
        assert_eq!(format_secs(Duration::from_millis(500)), "0.5");
        assert_eq!(format_secs(Duration::from_secs(30)), "30");
        assert_eq!(format_secs(Duration::new(1, 250_000_000)), "1.25");
        for bad in [
            "",
            "0",
            "0.0",
            "0.0000000001",
            "-1",
            "1.2.3",
            ".",
            "s",
            "ms",
            "1x",
            "inf",
            "NaN",
            "1e3",
            "9999999h",
            "8784.000001h",
            "99999999999999999999999999999999999999",
            " 1",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn sorts_and_drops_repeats() {
        let mut v = vec![5, 3, 9, 3, 1, 5, 0];
        sort_unique(&mut v);
        assert_eq!(v, [0, 1, 3, 5, 9]);
        let mut empty: Vec<u8> = Vec::new();
        sort_unique(&mut empty);
        assert!(empty.is_empty());
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("0"), Ok(0));
        assert_eq!(parse_count("1024"), Ok(1024));
        for bad in ["", "-1", "1k", "18446744073709551616", "0x10"] {
            assert!(parse_count(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        assert_eq!(parse_size("0.1K"), Ok(102));
        assert_eq!(
            parse_size("0.5"),
            Err(ParseError("size '0.5' must be at least one byte".into()))
        );
        assert_eq!(format_size((2 << 30) - 1), "2.0G");
        assert_eq!(format_size(u64::MAX - 1), "16777215.9T");
        assert!(parse_size(&format_size(u64::MAX - 1)).is_ok());
        assert_eq!(format_size(1126), "1.1K");
        assert_eq!(format_size(1727), "1.7K");
        for bad in [
            "",
            "M",
            "0",
            "0K",
            "-1M",
            "1.2.3M",
            "1MB",
            "1 M",
            "x",
            ".5M",
            "5.M",
            "1e3",
            "0.1",
            "99999999999T",
            "inf",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(format_size(64 << 20), "64M");
        assert_eq!(format_size(3 << 29), "1.5G");
        assert_eq!(format_size(512 << 10), "512K");
        assert_eq!(format_size(100), "100");
    }

    #[test]
    fn names() {
        assert_eq!(parse_name("box-1.test"), Ok("box-1.test".into()));
        for bad in ["", "-a", "a-", ".a", "a b", "a_b", "ä", &"x".repeat(65)] {
            assert!(parse_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn env_pairs() {
        assert_eq!(parse_env("A=b"), Ok(("A".into(), "b".into())));
        assert_eq!(parse_env("A="), Ok(("A".into(), String::new())));
        assert_eq!(parse_env("A=b=c"), Ok(("A".into(), "b=c".into())));
        for bad in ["A", "=b", "", "A=\0"] {
            assert!(parse_env(bad).is_err(), "{bad:?} accepted");
        }
    }
}
