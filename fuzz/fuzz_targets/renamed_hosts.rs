//! `served::renamed_hosts(hosts, real, name)`: never panics; the output ends with
//! `127.0.1.1\tNAME`, no other line names the host (a name whose first label is the
//! first label of `real`, unless that is empty or `localhost`), and every other line
//! comes, in order, from an input line with the same address.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::policy::served::renamed_hosts;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = input.splitn(3, '\0');
    let hosts = parts.next().unwrap_or("");
    let real = parts.next().unwrap_or("");
    let name = parts.next().unwrap_or("box");
    if name.contains('\n') {
        return;
    }
    let out = renamed_hosts(hosts, real, name);
    let last = format!("127.0.1.1\t{name}\n");
    assert!(out.ends_with(&last), "{out:?}");
    let short = real.split('.').next().unwrap_or("");
    let body = &out[..out.len() - last.len()];
    let entry = |line: &str| line.split('#').next().unwrap_or("").to_owned();
    if !short.is_empty() && short != "localhost" {
        for line in body.lines() {
            let names = entry(line);
            let mut fields = names.split_whitespace();
            fields.next();
            assert!(
                fields.all(|h| h.split('.').next() != Some(short)),
                "{line:?} names the host ({real:?})"
            );
        }
    }
    // Each output line comes from an input line, in order, with the same address.
    let mut from = hosts.lines();
    for line in body.lines() {
        let addr = entry(line).split_whitespace().next().map(str::to_owned);
        let found = from.any(|l| entry(l).split_whitespace().next().map(str::to_owned) == addr);
        assert!(found, "{line:?} does not come from the input");
    }
});
