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

use std::os::fd::OwnedFd;

use super::{Ctx, Decision, Handler};
use crate::policy::Policy;
use crate::seccomp::notif::{Notif, Response};
use crate::sys;

pub const OPEN: Handler = open;
pub const OPENAT: Handler = openat;
pub const OPENAT2: Handler = openat2;

/// Longest path we read (`PATH_MAX`); a longer one is not one of ours.
const PATH_MAX: usize = 4096;

/// What a served file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Fixed text.
    Text(Vec<u8>),
    /// `/proc/net/tcp` (`v6`: `tcp6`) made at each open: the sandbox's own sockets,
    /// with virtual ports (`--port-remap`).
    NetTcp { v6: bool },
    /// `/proc/cpuinfo` with only the first `cpus` processors (`--num-cpus`).
    CpuInfo { cpus: u32 },
    /// An endless read-only stream of the seeded generator (`--random-seed`): each open
    /// gets the next stream number, so a program that opens in a fixed order reads the
    /// same bytes every run.
    Random,
}

/// The served files: absolute path -> content.
#[derive(Debug, Default)]
pub struct Files {
    served: Vec<(&'static str, Content)>,
}

impl Files {
    /// The files `policy` serves. A file the command could not read itself (Landlock)
    /// is only served when its content is made up (`/etc/hostname`, the CPU count):
    /// host data such as `/proc/cpuinfo` stays out of reach without `-r /proc`.
    pub fn for_policy(policy: &Policy) -> Files {
        let mut files = Files::default();
        let Some(s) = &policy.supervisor else {
            return files;
        };
        let name = s.name.as_str();
        if let Some(text) = policy.net.hosts_file(name) {
            files.add("/etc/hosts", Content::Text(text.into_bytes()));
        } else if policy.reads("/etc/hosts") {
            // The host's table, with the sandbox's name for its own address instead of
            // the host's name, so the name `uname` gives resolves.
            let host = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            let real = rustix::system::uname();
            let real = real.nodename().to_string_lossy();
            files.add(
                "/etc/hosts",
                Content::Text(renamed_hosts(&host, &real, name).into_bytes()),
            );
        }
        files.add(
            "/etc/hostname",
            Content::Text(format!("{name}\n").into_bytes()),
        );
        if policy.net.remap && policy.reads("/proc/net/tcp") {
            files.add("/proc/net/tcp", Content::NetTcp { v6: false });
            files.add("/proc/net/tcp6", Content::NetTcp { v6: true });
        }
        if let Some(cpus) = s.num_cpus {
            let online = match cpus {
                1 => "0\n".to_owned(),
                n => format!("0-{}\n", n - 1),
            };
            files.add(
                "/sys/devices/system/cpu/online",
                Content::Text(online.into_bytes()),
            );
            if policy.reads("/proc/cpuinfo") {
                files.add("/proc/cpuinfo", Content::CpuInfo { cpus });
            }
        }
        if s.random_seed.is_some() {
            files.add("/dev/urandom", Content::Random);
            files.add("/dev/random", Content::Random);
        }
        files
    }

    pub fn add(&mut self, path: &'static str, content: Content) {
        self.served.push((path, content));
    }

    pub fn is_empty(&self) -> bool {
        self.served.is_empty()
    }

    fn lookup(&self, path: &[u8]) -> Option<(&'static str, &Content)> {
        let path = proc_net_alias(path).unwrap_or(path.to_vec());
        self.served
            .iter()
            .find(|(p, _)| p.as_bytes() == path)
            .map(|(p, c)| (*p, c))
    }
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

/// Reads the NUL-terminated string at `addr` in the caller, a page at a time (a string
/// may end just before an unmapped page). `None` when unreadable or too long.
pub fn read_path(n: &Notif, addr: u64) -> Option<Vec<u8>> {
    const PAGE: u64 = 4096;
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < PATH_MAX {
        let chunk = (PAGE - at % PAGE) as usize;
        let mut buf = vec![0u8; chunk.min(PATH_MAX + 1 - out.len())];
        let got = sys::process_vm_read(n.pid as i32, at, &mut buf).ok()?;
        if got == 0 {
            return None;
        }
        if let Some(end) = buf[..got].iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..end]);
            return Some(out);
        }
        out.extend_from_slice(&buf[..got]);
        at += got as u64;
    }
    None
}

/// A sealed memfd holding `content`, positioned at its start.
pub fn memfd(name: &str, content: &[u8]) -> rustix::io::Result<OwnedFd> {
    use rustix::fs::{MemfdFlags, SealFlags};
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    let mut rest = content;
    while !rest.is_empty() {
        let n = rustix::io::write(&fd, rest)?;
        rest = &rest[n..];
    }
    rustix::fs::fcntl_add_seals(
        &fd,
        SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
    )?;
    rustix::fs::seek(&fd, rustix::fs::SeekFrom::Start(0))?;
    Ok(fd)
}

/// `hosts` (an /etc/hosts text) without the names `real` (the host's name, also as
/// the first label of a dotted name), and `127.0.1.1 NAME` for the sandbox's `name`.
/// A line left with no name is dropped; comments and blank lines are kept.
pub fn renamed_hosts(hosts: &str, real: &str, name: &str) -> String {
    let short = real.split('.').next().unwrap_or(real);
    let keep_all = short.is_empty() || short == "localhost";
    let is_real = |h: &str| !keep_all && h.split('.').next() == Some(short);
    let mut out = String::new();
    for line in hosts.lines() {
        let (entry, comment) = match line.find('#') {
            Some(i) => line.split_at(i),
            None => (line, ""),
        };
        let mut fields = entry.split_whitespace();
        let Some(addr) = fields.next() else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let names: Vec<&str> = fields.filter(|h| !is_real(h)).collect();
        if names.is_empty() {
            continue;
        }
        out.push_str(addr);
        for h in names {
            out.push('\t');
            out.push_str(h);
        }
        if !comment.is_empty() {
            out.push(' ');
            out.push_str(comment);
        }
        out.push('\n');
    }
    out.push_str("127.0.1.1\t");
    out.push_str(name);
    out.push('\n');
    out
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
    let Some((name, content)) = ctx.files.lookup(&path) else {
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
    fn hosts_get_the_sandbox_name_instead_of_the_hosts() {
        let hosts =
            "# static\n127.0.0.1\tlocalhost\n127.0.1.1\tbox.lan box # me\n\n10.0.0.2 db box\n";
        assert_eq!(
            renamed_hosts(hosts, "box", "sandlet-7"),
            "# static\n127.0.0.1\tlocalhost\n\n10.0.0.2\tdb\n127.0.1.1\tsandlet-7\n"
        );
        // A dotted host name counts by its first label; localhost is never dropped.
        assert_eq!(
            renamed_hosts("127.0.1.1 box\n", "box.lan", "s"),
            "127.0.1.1\ts\n"
        );
        assert_eq!(
            renamed_hosts("127.0.0.1 localhost\n", "localhost", "s"),
            "127.0.0.1\tlocalhost\n127.0.1.1\ts\n"
        );
    }

    #[test]
    fn serves_exact_paths_only() {
        let mut files = Files::default();
        files.add("/etc/hosts", Content::Text(b"1.2.3.4\tx\n".to_vec()));
        files.add("/etc/hostname", Content::Text(b"box\n".to_vec()));
        files.add("/proc/net/tcp", Content::NetTcp { v6: false });
        files.add("/proc/net/tcp6", Content::NetTcp { v6: true });
        let text = |t: &[u8]| Some(Content::Text(t.to_vec()));
        let get = |p: &[u8]| files.lookup(p).map(|(_, c)| c.clone());
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
        assert!(Files::default().is_empty());
    }

    #[test]
    fn memfds_are_sealed_and_rewound() {
        let fd = memfd("test", b"hello").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(rustix::io::read(&fd, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        assert!(
            rustix::io::write(&fd, b"x").is_err(),
            "sealed against writes"
        );
    }
}
