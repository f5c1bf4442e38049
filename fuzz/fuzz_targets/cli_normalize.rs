//! `cli::normalize`, `cli::parse` and `cli::spec` on arbitrary argument vectors: never
//! panic.
//! `normalize` only splits (never drops, reorders or invents text) and is idempotent:
//! normalize(normalize(x)) == normalize(x).
//!
//! Input: arguments separated by NUL bytes. An argument whose first byte is below 0x20
//! is a known token (chosen by that byte) followed by the rest of the argument, so the
//! fuzzer reaches the flag forms (`--fs-read=X`, `-rX`, `--`) quickly.
#![no_main]

use std::ffi::OsString;

use libfuzzer_sys::fuzz_target;
use sandlet::cli::{normalize, parse, spec, Parsed};

const TOKENS: &[&str] = &[
    "run",
    "check",
    "--",
    "-",
    "-r",
    "-w",
    "-t",
    "--fs-read",
    "--fs-write",
    "--cwd",
    "--env",
    "--timeout",
    "--max-open-files",
    "--net-allow-bind",
    "--extra-deny-syscall",
    "--extra-allow-syscall",
    "--allow-degraded",
    "--clean-env",
    "--no-coredump",
    "--keep-caps",
    "--no-supervisor",
    "--help",
    "--version",
    "=",
    "--fs-read=",
    "-r=",
    "--bogus=",
    "help",
    "-x",
    "--no-huge-pages",
    "--no-randomize-memory",
    "-rw",
    "--max-processes",
    "--max-memory",
    "--workers",
    "--num-cpus",
    "--cpu-cores",
    "--net-allow",
    "--net-deny",
    "--time-start",
    "--policy-timeout",
];

fn arg(chunk: &[u8]) -> String {
    match chunk.split_first() {
        Some((&b, rest)) if b < 0x20 => {
            let token = TOKENS[usize::from(b) % TOKENS.len()];
            format!("{token}{}", String::from_utf8_lossy(rest))
        }
        _ => String::from_utf8_lossy(chunk).into_owned(),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 4096 {
        return;
    }
    let args: Vec<String> = if data.is_empty() {
        Vec::new()
    } else {
        data.split(|&b| b == 0).map(arg).collect()
    };

    let once = normalize(&args);
    assert!(
        once.len() >= args.len(),
        "{args:?} -> {once:?}: arguments lost"
    );
    // Splitting `--flag=value` loses exactly one '=' per split; nothing else changes.
    let text = |v: &[String]| v.concat().replace('=', "");
    assert_eq!(
        text(&args),
        text(&once),
        "{args:?} -> {once:?}: text changed"
    );
    let twice = normalize(&once);
    assert_eq!(once, twice, "normalize is not idempotent on {args:?}");

    let os: Vec<OsString> = args.iter().map(OsString::from).collect();
    if let Parsed::Run(run, command) = parse(&os) {
        let _ = spec(&run, command);
    }
});
