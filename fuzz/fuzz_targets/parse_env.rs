//! `parse_env`: never panics; an accepted `KEY=VALUE` has a non-empty key without `=`,
//! no NUL byte, and `key + "=" + value` is exactly the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::policy::parse::parse_env;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((key, value)) = parse_env(input) {
        assert!(!key.is_empty(), "{input:?}: empty key accepted");
        assert!(!key.contains('='), "{input:?}: key {key:?} contains '='");
        assert!(!input.contains('\0'), "{input:?}: NUL byte accepted");
        assert_eq!(format!("{key}={value}"), input);
    }
});
