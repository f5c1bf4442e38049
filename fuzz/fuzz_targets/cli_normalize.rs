//! `cli::normalize`, `cli::parse` and `cli::spec` on arbitrary argument vectors: never
//! panic.
//! `normalize` only splits (never drops, reorders or invents text) and is idempotent:
//! normalize(normalize(x)) == normalize(x).
//!
//! Input: arguments separated by NUL bytes. An argument whose first byte is below 0x20
//! is a known token chosen by its second byte (among every flag of `run`, read from the
//! CLI definition) followed by the rest of the argument, so the fuzzer reaches the flag
//! forms (`--fs-read=X`, `-rX`, `--`) quickly.
#![no_main]

use std::ffi::OsString;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sandlet::cli::{normalize, parse, run_flags, spec, Parsed};

/// Fixed tokens, then every flag of `run` in its spellings (`--flag`, `--flag=`, `-x`,
/// `-x=`), read from the CLI definition so that new flags join by themselves.
fn tokens() -> &'static [String] {
    static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let mut t: Vec<String> = [
            "run", "check", "--", "-", "=", "help", "-x", "-rw", "--bogus=", "--help",
            "--version",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for flag in run_flags() {
            t.push(flag.long.clone());
            t.push(format!("{}=", flag.long));
            if let Some(c) = flag.short {
                t.push(format!("-{c}"));
                t.push(format!("-{c}="));
            }
        }
        t
    })
}

fn arg(chunk: &[u8]) -> String {
    match chunk {
        // A byte below 0x20, then the token's index, then the rest of the argument.
        [b, index, rest @ ..] if *b < 0x20 => {
            let tokens = tokens();
            let token = &tokens[usize::from(*index) % tokens.len()];
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
