//! `parse_size`: never panics; an accepted size is at least one byte, and formatting it
//! with `format_size` and parsing again never fails and stays within rounding of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::policy::parse::{format_size, parse_size};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(bytes) = parse_size(input) else {
        return;
    };
    assert!(bytes >= 1, "{input:?} gave {bytes}");
    let shown = format_size(bytes);
    let again = parse_size(&shown).unwrap_or_else(|e| panic!("{shown:?} (from {input:?}): {e}"));
    // format_size keeps one decimal: within 5% of the original.
    let (lo, hi) = (bytes.min(again) as f64, bytes.max(again) as f64);
    assert!(hi - lo <= hi * 0.05 + 1.0, "{input:?}: {bytes} -> {shown:?} -> {again}");
});
