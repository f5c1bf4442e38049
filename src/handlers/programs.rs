//! What an exec runs besides the file it names, for `--deny-exec`: the interpreter of a
//! `#!` script (the kernel starts it within the same `execve`, nested up to its depth
//! of 4), and the program a dynamic loader is asked to run (`ld.so [OPTIONS] PROGRAM`
//! maps PROGRAM itself, without an exec). Neither is an exec of its own that the filter
//! would see, so each is judged with the file named. Pure functions over a reader of a
//! file's first bytes; no file is opened here.

/// The kernel's limit on nested interpreters (`BINPRM_MAX_RECURSION`).
const MAX_DEPTH: usize = 4;
/// How much of a file the kernel reads for a `#!` line (`BINPRM_BUF_SIZE`).
pub const HEAD: usize = 256;

/// glibc's `ld.so` options that take a value (the next argument).
const LOADER_VALUE_OPTIONS: &[&str] = &[
    "--library-path",
    "--inhibit-rpath",
    "--audit",
    "--preload",
    "--argv0",
    "--glibc-hwcaps-prefer",
    "--glibc-hwcaps-mask",
];

/// Whether `path` names a dynamic loader by its file name: `ld-linux*.so*`,
/// `ld-musl-*.so*`, `ld.so*`, `ld64.so*` (a renamed copy is not recognized).
pub fn is_loader(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let has_so = name.contains(".so");
    (name.starts_with("ld-") && has_so) || name.starts_with("ld.so") || name.starts_with("ld64.so")
}

/// The program a loader started with `argv` runs: its first argument that is not an
/// option (options with a value skip it; `--` ends them). `None` when there is none
/// (`ld.so --help`).
pub fn loader_target(argv: &[String]) -> Option<usize> {
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "--" {
            return (i + 1 < argv.len()).then_some(i + 1);
        }
        if !a.starts_with("--") {
            return Some(i);
        }
        let takes_value = LOADER_VALUE_OPTIONS.contains(&a);
        i += if takes_value { 2 } else { 1 };
    }
    None
}

/// The interpreter and optional argument of a `#!` line at the start of `head`, as the
/// kernel splits it (first word, then the rest trimmed, one argument).
/// The program interpreter (`PT_INTERP`, the dynamic loader the kernel maps) of the
/// 64-bit little-endian ELF file whose first bytes are `head`; `None` for anything else
/// or when the header lies beyond `head`.
pub fn elf_interpreter(head: &[u8]) -> Option<String> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(head.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(head.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(head.get(at..at + 8)?.try_into().ok()?));
    if head.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let (phoff, size, count) = (
        u64_at(0x20)? as usize,
        u16_at(0x36)? as usize,
        u16_at(0x38)?,
    );
    for i in 0..usize::from(count) {
        let ph = phoff.checked_add(i.checked_mul(size)?)?;
        if u32_at(ph)? == 3 {
            let (off, len) = (u64_at(ph + 8)? as usize, u64_at(ph + 32)? as usize);
            let raw = head.get(off..off.checked_add(len)?)?;
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            return String::from_utf8(raw[..end].to_vec()).ok();
        }
    }
    None
}

pub fn shebang(head: &[u8]) -> Option<(String, Option<String>)> {
    let line = head.strip_prefix(b"#!")?;
    let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
    let line = String::from_utf8_lossy(&line[..end]);
    let line = line.trim_matches([' ', '\t']);
    let (interp, rest) = match line.find([' ', '\t']) {
        Some(i) => (&line[..i], line[i..].trim_matches([' ', '\t'])),
        None => (line, ""),
    };
    if interp.is_empty() {
        return None;
    }
    Some((
        interp.to_owned(),
        (!rest.is_empty()).then(|| rest.to_owned()),
    ))
}

/// Every program run by exec'ing `path` with `argv` other than `path` itself, in
/// order: interpreters of scripts and what a loader is asked to run. `head` reads a
/// file's first bytes (`None` when it cannot be read).
pub fn indirect(
    path: &str,
    argv: &[String],
    head: impl Fn(&str) -> Option<Vec<u8>>,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut file = path.to_owned();
    let mut args = argv.to_vec();
    for _ in 0..=MAX_DEPTH {
        if is_loader(&file) {
            if let Some(i) = loader_target(&args) {
                out.push(args[i].clone());
                file = args[i].clone();
                args = args[i..].to_vec();
                // A loader maps ELF programs only (another loader among them).
                if is_loader(&file) {
                    continue;
                }
            }
            break;
        }
        let Some((interp, arg)) = head(&file).as_deref().and_then(shebang) else {
            break;
        };
        // The kernel's new argv: interpreter, its argument, the script, then the rest.
        let mut next = vec![interp.clone()];
        next.extend(arg);
        next.push(file.clone());
        next.extend(args.iter().skip(1).cloned());
        out.push(interp.clone());
        file = interp;
        args = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn loaders_by_name() {
        for l in [
            "/lib64/ld-linux-x86-64.so.2",
            "/lib/ld-linux-aarch64.so.1",
            "/lib/ld-musl-x86_64.so.1",
            "ld.so",
            "/usr/lib/ld.so.1",
            "ld64.so.2",
        ] {
            assert!(is_loader(l), "{l}");
        }
        for p in [
            "/bin/ld",
            "/usr/bin/ld.bfd",
            "/bin/true",
            "/lib/libc.so.6",
            "ld-x",
        ] {
            assert!(!is_loader(p), "{p}");
        }
    }

    #[test]
    fn loader_targets_skip_options() {
        assert_eq!(loader_target(&v(&["ld.so", "/bin/true", "x"])), Some(1));
        assert_eq!(
            loader_target(&v(&[
                "ld.so",
                "--library-path",
                "/lib",
                "--inhibit-cache",
                "t"
            ])),
            Some(4)
        );
        assert_eq!(
            loader_target(&v(&["ld.so", "--argv0", "x", "--", "t"])),
            Some(4)
        );
        assert_eq!(loader_target(&v(&["ld.so", "--help"])), None);
        assert_eq!(loader_target(&v(&["ld.so", "--preload"])), None);
    }

    #[test]
    fn elf_interpreters_are_read_from_the_header() {
        let own = std::fs::read("/proc/self/exe").unwrap();
        let interp = elf_interpreter(&own[..own.len().min(4096)]);
        // The test binary is dynamic: its loader exists.
        assert!(interp.is_some_and(|p| std::path::Path::new(&p).exists()));
        assert_eq!(elf_interpreter(b"#!/bin/sh\n"), None);
        assert_eq!(elf_interpreter(b"\x7fELF\x02\x01"), None);
    }

    #[test]
    fn shebang_lines() {
        assert_eq!(shebang(b"#!/bin/sh\necho"), Some(("/bin/sh".into(), None)));
        assert_eq!(
            shebang(b"#! /usr/bin/env  python3 -u \n"),
            Some(("/usr/bin/env".into(), Some("python3 -u".into())))
        );
        assert_eq!(shebang(b"#!\n"), None);
        assert_eq!(shebang(b"\x7fELF"), None);
        assert_eq!(shebang(b"#!/bin/true"), Some(("/bin/true".into(), None)));
    }

    #[test]
    fn chains_of_scripts_and_loaders() {
        let files = |f: &str| -> Option<Vec<u8>> {
            match f {
                "/s1" => Some(b"#!/s2\n".to_vec()),
                "/s2" => Some(b"#!/bin/curl\n".to_vec()),
                "/s3" => Some(b"#!/lib64/ld-linux-x86-64.so.2 /bin/curl\n".to_vec()),
                "/loop" => Some(b"#!/loop\n".to_vec()),
                _ => Some(b"\x7fELF".to_vec()),
            }
        };
        assert_eq!(
            indirect("/s1", &v(&["s1"]), files),
            v(&["/s2", "/bin/curl"])
        );
        assert_eq!(
            indirect("/s3", &v(&["s3", "a"]), files),
            v(&["/lib64/ld-linux-x86-64.so.2", "/bin/curl"])
        );
        let ld = "/lib64/ld-linux-x86-64.so.2";
        assert_eq!(
            indirect(ld, &v(&[ld, "--argv0", "x", "/s1"]), files),
            v(&["/s1"]),
            "a loader does not run scripts"
        );
        assert_eq!(
            indirect("/bin/true", &v(&["true"]), files),
            Vec::<String>::new()
        );
        assert_eq!(indirect("/loop", &v(&["loop"]), files).len(), MAX_DEPTH + 1);
    }
}
