//! `parse_count`: never panics; accepts exactly the decimal numbers that fit a u64 and
//! returns their value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::policy::parse::parse_count;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let result = parse_count(input);
    let digits = !input.is_empty() && input.bytes().all(|b| b.is_ascii_digit());
    let significant = input.trim_start_matches('0');
    match result {
        Ok(n) => {
            assert!(digits, "{input:?} accepted but is not all digits");
            let expected = if significant.is_empty() {
                "0"
            } else {
                significant
            };
            assert_eq!(n.to_string(), expected, "{input:?} parsed to {n}");
        }
        Err(_) => {
            let fits = significant.len() <= 20
                && significant.parse::<u128>().unwrap_or(0) <= u128::from(u64::MAX);
            assert!(!(digits && fits), "{input:?} rejected but is a valid u64");
        }
    }
});
