//! `parse_percent`: never panics; accepts exactly the decimal numbers (ASCII digits
//! only, leading zeros allowed, as `parse_count` does) whose value is 1 to 100, and
//! returns that value: on success `n.to_string()` is the input without its leading zeros.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::policy::parse::parse_percent;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let result = parse_percent(input);
    let digits = !input.is_empty() && input.bytes().all(|b| b.is_ascii_digit());
    let significant = input.trim_start_matches('0');
    // 1..=100 has at most three significant digits; longer numbers are out of range.
    let in_range = digits
        && significant.len() <= 3
        && matches!(significant.parse::<u32>(), Ok(1..=100));
    match result {
        Ok(n) => {
            assert!(in_range, "{input:?} accepted as {n}");
            assert!((1..=100).contains(&n), "{input:?} parsed to {n}");
            assert_eq!(n.to_string(), significant, "{input:?} parsed to {n}");
        }
        Err(_) => assert!(!in_range, "{input:?} rejected but is 1 to 100"),
    }
});
