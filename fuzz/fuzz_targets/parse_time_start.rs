//! `parse_time_start`: never panics; an accepted instant is not before 1970, formatting it
//! as RFC 3339 UTC with nanoseconds (civil date worked out here by counting years and
//! months, not with the parser's algorithm) and parsing again gives the same instant, and
//! an all-digit input of 1 to 12 digits is accepted exactly when its seconds fit an `i64`
//! of nanoseconds, with that value.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use sandlet::policy::parse::parse_time_start;

const NS_PER_SEC: i64 = 1_000_000_000;

fn leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// `ns` (>= 0) as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, or `None` past year 9999.
fn rfc3339(ns: i64) -> Option<String> {
    let (secs, nanos) = (ns / NS_PER_SEC, ns % NS_PER_SEC);
    let (mut days, rest) = (secs / 86_400, secs % 86_400);
    let mut year = 1970;
    loop {
        let len = if leap(year) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        year += 1;
    }
    if year > 9999 {
        return None;
    }
    let feb = if leap(year) { 29 } else { 28 };
    let mut month = 1;
    for len in [31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] {
        if days < len {
            break;
        }
        days -= len;
        month += 1;
    }
    Some(format!(
        "{year:04}-{month:02}-{:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        days + 1,
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    ))
}

/// Known answers, for the parser and for `rfc3339`, checked once per process.
fn sanity() {
    assert_eq!(parse_time_start("0"), Ok(0));
    assert_eq!(parse_time_start("1970-01-01T00:00:00Z"), Ok(0));
    assert_eq!(
        parse_time_start("2000-02-29T12:00:00.5+12:00"),
        Ok(951_782_400 * NS_PER_SEC + 500_000_000)
    );
    assert!(parse_time_start("1969-12-31T23:59:59Z").is_err());
    assert!(parse_time_start("1970-01-01T00:00:00+00:01").is_err());
    assert_eq!(
        rfc3339(0).as_deref(),
        Some("1970-01-01T00:00:00.000000000Z")
    );
    assert_eq!(
        rfc3339(951_868_800 * NS_PER_SEC + 1).as_deref(),
        Some("2000-03-01T00:00:00.000000001Z")
    );
    assert_eq!(
        rfc3339(i64::MAX).as_deref(),
        Some("2262-04-11T23:47:16.854775807Z")
    );
}

static SANITY: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    SANITY.call_once(sanity);
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let result = parse_time_start(input);

    if (1..=12).contains(&input.len()) && input.bytes().all(|b| b.is_ascii_digit()) {
        let expected = input.parse::<i128>().unwrap() * i128::from(NS_PER_SEC);
        match i64::try_from(expected) {
            Ok(n) => assert_eq!(result, Ok(n), "{input:?} is {n} ns"),
            Err(_) => assert!(
                result.is_err(),
                "{input:?} accepted as {result:?}, but its nanoseconds overflow i64"
            ),
        }
    }

    let Ok(ns) = result else {
        return;
    };
    assert!(ns >= 0, "{input:?} parsed to {ns}, before 1970");
    if let Some(shown) = rfc3339(ns) {
        assert_eq!(
            parse_time_start(&shown),
            Ok(ns),
            "{input:?} -> {ns} formats as {shown:?}, which does not parse back"
        );
    }
});
