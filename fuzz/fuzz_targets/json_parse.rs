//! JSON: never panics on any bytes; what it accepts prints (compact and pretty) to text
//! that parses back to an equal value, and the compact print is canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::json;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = json::parse_bytes(data) else {
        return;
    };
    let printed = value.to_string();
    let again = json::parse(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
    assert_eq!(again, value, "{printed:?}");
    assert_eq!(again.to_string(), printed);
    let pretty = value.to_pretty();
    let again = json::parse(&pretty).unwrap_or_else(|e| panic!("{pretty:?}: {e}"));
    assert_eq!(again, value, "{pretty:?}");
});
