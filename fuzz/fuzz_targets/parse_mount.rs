//! `--fs-mount` specs: never panics; an accepted spec has an absolute VIRTUAL and a
//! non-empty HOST, and writing it back (with `:ro` when read-only) parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::policy::view::parse_mount;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((at, host, ro)) = parse_mount(spec) else {
        return;
    };
    assert!(at.is_absolute() && !host.as_os_str().is_empty(), "{spec:?}");
    let again = format!("{}:{}:{}", at.display(), host.display(), if ro { "ro" } else { "rw" });
    assert_eq!(parse_mount(&again).ok(), Some((at, host, ro)), "{spec:?}");
});
