//! `parse_duration`: never panics; an accepted duration is positive and at most 366 days.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sandlet::policy::parse::parse_duration;

const MAX: Duration = Duration::from_secs(366 * 24 * 3600);

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_duration(input) {
        assert!(d > Duration::ZERO, "{input:?} parsed to a zero duration");
        assert!(d <= MAX, "{input:?} parsed to {d:?}, more than 366 days");
    }
});
