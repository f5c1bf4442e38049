//! The profile TOML subset: never panics; what it accepts prints canonically, and the
//! print parses back to an equal document that prints the same. Reading it as a profile
//! never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::profile::{self, toml};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = profile::from_text(text, "fuzz.toml");
    let Ok(doc) = toml::parse(text) else {
        return;
    };
    let printed = doc.to_string();
    let again = toml::parse(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
    assert_eq!(again, doc, "{printed:?}");
    assert_eq!(again.to_string(), printed);
});
