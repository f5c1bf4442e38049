//! An OCI `config.json` of any shape: the JSON reader and the mapping onto run flags
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = sandlet::json::parse_bytes(data) {
        let _ = sandlet::oci::config::container(&v, std::path::Path::new("/bundle"));
        if let Some(p) = v.get("process") {
            let _ = sandlet::oci::config::process(p);
        }
    }
});
