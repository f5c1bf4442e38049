//! Files the sandbox sees instead of the host's: `/etc/hosts` with the names the rules
//! pinned, `/etc/hostname` with the sandbox's name, and under `--port-remap`
//! `/proc/net/tcp{,6}` with only the sandbox's sockets and their virtual ports;
//! `/sys/devices/system/cpu/online` and `/proc/cpuinfo` with `--num-cpus` CPUs;
//! `/dev/urandom` and `/dev/random` as the `--random-seed` stream (a pipe fed by a
//! thread of sandlet, so a read returns what the pipe holds: callers loop, as for any
//! pipe).
//!
//! `open`, `openat` and `openat2` are trapped while any file is served. A read-only open
//! of a served file is answered with a new sealed memfd holding the content, installed
//! in the caller with `SECCOMP_IOCTL_NOTIF_ADDFD`; every other open continues. A served
//! file is recognized by what the open would reach, not by its spelling: the path is
//! resolved `O_PATH` as the caller's open would (from its cwd or `dirfd`, its
//! `/proc/self`, its `O_NOFOLLOW` and openat2 `resolve` flags) and compared by device
//! number (character devices) or device and inode with the host file it stands for.
//! The path is in the caller's memory, so another thread can swap it after we looked:
//! a continued open can still reach the host's file. That
//! is acceptable for the /etc files because they decide nothing (connects are checked
//! against the pinned addresses whatever the command resolved). For /proc/net/tcp it
//! means a racing command can read the host's table (which Landlock allows only when
//! /proc is readable at all); README lists it under limitations.

use std::os::unix::ffi::OsStrExt;

use super::caller::{memfd, read_path};
use super::{Ctx, Decision, Handler};
use crate::policy::served::{Content, Served};
use crate::procfs;
use crate::seccomp::notif::{Notif, Response};
use crate::state::FileId;
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
fn serve(ctx: &Ctx, n: &Notif, dirfd: u64, path_at: u64, flags: u64, resolve: u64) -> Decision {
    let Some(path) = read_path(n, path_at) else {
        return carry_on();
    };
    let as_written = (resolve == 0)
        .then(|| lookup(&ctx.served.files, &path))
        .flatten();
    let tmpfile = libc::O_TMPFILE as u64;
    let reading = flags & NOT_A_READ == 0 && flags & tmpfile != tmpfile;
    let found = as_written.or_else(|| {
        reading
            .then(|| identify(ctx, n, dirfd, &path, flags, resolve))
            .flatten()
    });
    let Some((name, content)) = found else {
        if resolve != 0 {
            // The kernel applies the restrictions to what is not served.
            return carry_on();
        }
        return super::procview::open(ctx, n, dirfd, &path, flags).unwrap_or_else(carry_on);
    };
    if !reading {
        return carry_on();
    }
    if flags & libc::O_DIRECTORY as u64 != 0 {
        return Decision::Respond(Response::Errno(libc::ENOTDIR));
    }
    let made;
    let bytes = match content {
        Content::Text(t) => t.as_slice(),
        Content::NetTcp { v6 } => {
            made = super::tcp_table::proc_net_tcp(ctx, *v6);
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

/// The served file that the caller's open of `path` (from `dirfd`, with `flags` and
/// `resolve` as openat2 takes them) would reach, found by resolving it for the caller
/// and comparing what it names (hazard 15: `/dev/./urandom`, `/dev//urandom`, a
/// symlink, `urandom` from `/dev` all name the host's `/dev/urandom`).
fn identify<'a>(
    ctx: &'a Ctx,
    n: &Notif,
    dirfd: u64,
    path: &[u8],
    flags: u64,
    resolve: u64,
) -> Option<(&'static str, &'a Content)> {
    if ctx.served.ids.iter().all(Option::is_none) {
        return None;
    }
    let id = resolve_for(n, dirfd, path, flags, resolve, ctx.served.rooted).ok()?;
    let (name, content) = ctx.served.by_id(id)?;
    Some((*name, content))
}

/// What `path` names for the caller's open: resolved from its working directory or
/// `dirfd` (through their `/proc/TID` links), its `/proc/self` for sandlet's, following
/// the last link unless `O_NOFOLLOW`, with the caller's openat2 `resolve` restrictions;
/// under `--chroot` (`rooted`) an absolute path from the caller's root. One `statx`
/// unless restrictions ask for `openat2`.
fn resolve_for(
    n: &Notif,
    dirfd: u64,
    path: &[u8],
    flags: u64,
    resolve: u64,
    rooted: bool,
) -> rustix::io::Result<FileId> {
    use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags, StatxFlags};
    let tid = n.pid;
    let tgid = || procfs::tgid_of(tid).unwrap_or(tid as i32);
    let absolute = path.first() == Some(&b'/');
    let base = match dirfd as i32 {
        libc::AT_FDCWD => format!("/proc/{tid}/cwd"),
        fd => format!("/proc/{tid}/fd/{fd}"),
    };
    let nofollow = flags & libc::O_NOFOLLOW as u64 != 0;
    if resolve != 0 {
        let base = rustix::fs::open(base, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?;
        let mut how = OFlags::PATH | OFlags::CLOEXEC;
        if nofollow {
            how |= OFlags::NOFOLLOW;
        }
        let path = std::ffi::OsStr::from_bytes(path);
        let resolve = ResolveFlags::from_bits_retain(resolve);
        let fd = rustix::fs::openat2(&base, path, how, Mode::empty(), resolve)?;
        return Ok(FileId::of(&rustix::fs::fstat(&fd)?));
    }
    let full: Vec<u8> = if let Some(rest) = path.strip_prefix(b"/proc/self") {
        [format!("/proc/{}", tgid()).as_bytes(), rest].concat()
    } else if let Some(rest) = path.strip_prefix(b"/proc/thread-self") {
        [format!("/proc/{}/task/{tid}", tgid()).as_bytes(), rest].concat()
    } else if absolute && rooted {
        [format!("/proc/{tid}/root").as_bytes(), path].concat()
    } else if absolute {
        path.to_vec()
    } else {
        [base.as_bytes(), b"/", path].concat()
    };
    let at = if nofollow {
        AtFlags::SYMLINK_NOFOLLOW
    } else {
        AtFlags::empty()
    };
    let full = std::ffi::OsStr::from_bytes(&full);
    let st = rustix::fs::statx(
        rustix::fs::CWD,
        full,
        at,
        StatxFlags::TYPE | StatxFlags::INO,
    )?;
    let kind = u32::from(st.stx_mode) & libc::S_IFMT;
    Ok(if kind == libc::S_IFCHR {
        FileId::Device(libc::makedev(st.stx_rdev_major, st.stx_rdev_minor))
    } else {
        FileId::Inode(
            libc::makedev(st.stx_dev_major, st.stx_dev_minor),
            st.stx_ino,
        )
    })
}

/// `open(path, flags, mode)`.
fn open(ctx: &Ctx, n: &Notif) -> Decision {
    serve(ctx, n, libc::AT_FDCWD as u64, n.args[0], n.args[1], 0)
}

/// `openat(dirfd, path, flags, mode)`.
fn openat(ctx: &Ctx, n: &Notif) -> Decision {
    serve(ctx, n, n.args[0], n.args[1], n.args[2], 0)
}

/// `openat2(dirfd, path, how, size)`: `how.flags` is the first u64, `how.resolve` the
/// third (a served file is found with the same restrictions).
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
    serve(ctx, n, n.args[0], n.args[1], word(0), word(2))
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
