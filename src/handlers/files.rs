//! Files the sandbox sees instead of the host's: `/etc/hosts` with the names the rules
//! pinned, `/etc/hostname` with the sandbox's name, and under `--port-remap`
//! `/proc/net/tcp{,6}` with only the sandbox's sockets and their virtual ports;
//! `/sys/devices/system/cpu/online` and `/proc/cpuinfo` with `--num-cpus` CPUs;
//! `/dev/urandom` and `/dev/random` as the `--random-seed` stream (a pipe fed by a
//! thread of sandlet, so a read returns what the pipe holds: callers loop, as for any
//! pipe).
//!
//! `open`, `openat` and `openat2` are trapped while any file is served. A read-only open
//! of a served path (absolute, as written by the caller) is answered with a new sealed
//! memfd holding the content, installed in the caller with `SECCOMP_IOCTL_NOTIF_ADDFD`;
//! every other open continues. The path is in the caller's memory, so another thread
//! can swap it after we looked: a continued open can still reach the host's file. That
//! is acceptable for the /etc files because they decide nothing (connects are checked
//! against the pinned addresses whatever the command resolved). For /proc/net/tcp it
//! means a racing command can read the host's table (which Landlock allows only when
//! /proc is readable at all); README lists it under limitations.

use super::caller::{memfd, read_path};
use super::{Ctx, Decision, Handler};
use crate::policy::served::{Content, Served};
use crate::seccomp::notif::{Notif, Response};
use crate::sys;

pub const OPEN: Handler = open;
pub const OPENAT: Handler = openat;
pub const OPENAT2: Handler = openat2;

/// The served file `path` names (as written, or a `/proc/*/net` alias of it).
fn lookup<'a>(served: &'a [Served], path: &[u8]) -> Option<(&'static str, &'a Content)> {
    let path = proc_net_alias(path).unwrap_or(path.to_vec());
    served
        .iter()
        .find(|(p, _)| p.as_bytes() == path)
        .map(|(p, c)| (*p, c))
}

/// `text` (a /proc/cpuinfo) with only its first `cpus` processor blocks.
fn first_cpus(text: &str, cpus: u32) -> String {
    let mut out = String::new();
    for block in text.split_inclusive("\n\n").take(cpus as usize) {
        out.push_str(block);
    }
    out
}

/// `/proc/self/net/X`, `/proc/thread-self/net/X` and `/proc/PID/net/X` as `/proc/net/X`
/// (every process of the sandbox shares sandlet's network namespace).
fn proc_net_alias(path: &[u8]) -> Option<Vec<u8>> {
    let rest = path.strip_prefix(b"/proc/")?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (who, tail) = rest.split_at(slash);
    let named = who == b"self" || who == b"thread-self";
    if !named && (who.is_empty() || !who.iter().all(u8::is_ascii_digit)) {
        return None;
    }
    tail.strip_prefix(b"/net/")?;
    Some([&b"/proc"[..], tail].concat())
}

fn carry_on() -> Decision {
    Decision::Respond(Response::Continue)
}

/// Open flags that write, create or only name the file: such opens continue (the
/// kernel and Landlock decide them against the real file).
const NOT_A_READ: u64 = (libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC | libc::O_PATH) as u64;

/// Serves the open of the path at `path_at` (relative to `dirfd`) with `flags` when
/// the path is served, or beneath /proc with the /proc view on.
fn serve(ctx: &Ctx, n: &Notif, dirfd: u64, path_at: u64, flags: u64) -> Decision {
    let Some(path) = read_path(n, path_at) else {
        return carry_on();
    };
    let Some((name, content)) = lookup(&ctx.served, &path) else {
        return super::procview::open(ctx, n, dirfd, &path, flags).unwrap_or_else(carry_on);
    };
    let tmpfile = libc::O_TMPFILE as u64;
    if flags & NOT_A_READ != 0 || flags & tmpfile == tmpfile {
        return carry_on();
    }
    if flags & libc::O_DIRECTORY as u64 != 0 {
        return Decision::Respond(Response::Errno(libc::ENOTDIR));
    }
    let made;
    let bytes = match content {
        Content::Text(t) => t.as_slice(),
        Content::NetTcp { v6 } => {
            made = super::net::proc_net_tcp(ctx, *v6);
            made.as_slice()
        }
        Content::CpuInfo { cpus } => {
            let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
            made = first_cpus(&text, *cpus).into_bytes();
            made.as_slice()
        }
        Content::Random => {
            return match super::random::open_stream(ctx) {
                Ok(fd) => Decision::SendFd {
                    fd,
                    cloexec: flags & libc::O_CLOEXEC as u64 != 0,
                },
                Err(e) => Decision::Respond(Response::Errno(e.raw_os_error())),
            }
        }
    };
    match memfd(name, bytes) {
        Ok(fd) => Decision::SendFd {
            fd,
            cloexec: flags & libc::O_CLOEXEC as u64 != 0,
        },
        Err(e) => Decision::Respond(Response::Errno(e.raw_os_error())),
    }
}

/// `open(path, flags, mode)`.
fn open(ctx: &Ctx, n: &Notif) -> Decision {
    serve(ctx, n, libc::AT_FDCWD as u64, n.args[0], n.args[1])
}

/// `openat(dirfd, path, flags, mode)`.
fn openat(ctx: &Ctx, n: &Notif) -> Decision {
    serve(ctx, n, n.args[0], n.args[1], n.args[2])
}

/// `openat2(dirfd, path, how, size)`: `how.flags` is the first u64; opens with
/// `how.resolve` restrictions continue (they may refuse an absolute path).
fn openat2(ctx: &Ctx, n: &Notif) -> Decision {
    let mut how = [0u8; 24];
    if n.args[3] < how.len() as u64 {
        return carry_on();
    }
    match sys::process_vm_read(n.pid as i32, n.args[2], &mut how) {
        Ok(24) => {}
        _ => return carry_on(),
    }
    let word = |i: usize| u64::from_ne_bytes(how[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    if word(2) != 0 {
        return carry_on();
    }
    serve(ctx, n, n.args[0], n.args[1], word(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_cpus_keeps_whole_blocks() {
        let text = "processor\t: 0\nx: a\n\nprocessor\t: 1\nx: b\n\nprocessor\t: 2\nx: c\n\n";
        assert_eq!(first_cpus(text, 1), "processor\t: 0\nx: a\n\n");
        assert_eq!(first_cpus(text, 2).matches("processor").count(), 2);
        assert_eq!(first_cpus(text, 9), text);
    }

    #[test]
    fn serves_exact_paths_only() {
        let files: Vec<Served> = vec![
            ("/etc/hosts", Content::Text(b"1.2.3.4\tx\n".to_vec())),
            ("/etc/hostname", Content::Text(b"box\n".to_vec())),
            ("/proc/net/tcp", Content::NetTcp { v6: false }),
            ("/proc/net/tcp6", Content::NetTcp { v6: true }),
        ];
        let text = |t: &[u8]| Some(Content::Text(t.to_vec()));
        let get = |p: &[u8]| lookup(&files, p).map(|(_, c)| c.clone());
        assert_eq!(get(b"/etc/hosts"), text(b"1.2.3.4\tx\n"));
        assert_eq!(get(b"/etc/hostname"), text(b"box\n"));
        assert!(get(b"/etc//hosts").is_none());
        assert!(get(b"etc/hosts").is_none());
        let v4 = Some(Content::NetTcp { v6: false });
        for alias in [
            &b"/proc/net/tcp"[..],
            b"/proc/self/net/tcp",
            b"/proc/thread-self/net/tcp",
            b"/proc/123/net/tcp",
        ] {
            assert_eq!(get(alias), v4, "{}", String::from_utf8_lossy(alias));
        }
        assert_eq!(
            get(b"/proc/self/net/tcp6"),
            Some(Content::NetTcp { v6: true })
        );
        for other in [
            &b"/proc/x1/net/tcp"[..],
            b"/proc//net/tcp",
            b"/proc/net/udp",
        ] {
            assert!(get(other).is_none(), "{}", String::from_utf8_lossy(other));
        }
        assert!(lookup(&[], b"/etc/hosts").is_none());
    }
}
