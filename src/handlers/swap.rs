//! Connects where `pidfd_getfd` is refused (a container's seccomp profile without
//! CAP_SYS_PTRACE): the supervisor cannot take the caller's socket, so it makes a twin.
//!
//! A trapped `connect` on a TCP socket is made on a new socket of the same family,
//! created by the supervisor with the caller's `O_NONBLOCK`; it is connected to the
//! address the supervisor copied and checked, and, when the connect succeeded or is in
//! progress, installed over the caller's descriptor number in one step
//! (`SECCOMP_IOCTL_NOTIF_ADDFD` with `SECCOMP_ADDFD_FLAG_SETFD`, with the caller's
//! `O_CLOEXEC`). The caller's old socket is closed by that (it had no connection).
//! Like the `pidfd_getfd` path, the caller's memory is read once and never trusted
//! again, so rewriting it meanwhile gains nothing; a thread that swaps another socket
//! onto the number meanwhile loses that socket to the twin, which reaches only the
//! checked destination.
//!
//! What cannot be carried over: socket options set before `connect` (`TCP_NODELAY`,
//! buffer sizes, `SO_KEEPALIVE`, `IPV6_V6ONLY`, ...: set them after `connect`, or give the
//! container `CAP_SYS_PTRACE`) and a local address from a `bind` before `connect`: such
//! a socket is refused with EOPNOTSUPP (binds are trapped in this mode only to note
//! which sockets are bound). A socket that is listening or connected is never replaced:
//! its state comes from `/proc/PID/net/tcp` and the answer is the kernel's (EISCONN,
//! EALREADY). The kind of socket comes from the `system.sockprotoname` attribute of
//! `/proc/PID/fd/N`: TCP sockets get a twin, unix and netlink sockets continue as
//! usual, anything else is refused (UDP and ICMP rules refuse at start in this mode).

use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::sync::Mutex;

use log::{debug, warn};
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use crate::policy::net::Proto;
use crate::seccomp::notif::Notif;
use crate::state::lock;

/// Twin-making state: the sockets the sandbox bound (by inode).
#[derive(Debug, Default)]
pub struct Swap {
    bound: Mutex<HashSet<u64>>,
}

/// What a caller's descriptor turned out to be.
#[derive(Debug)]
pub enum Found {
    /// Not an inet socket: the call may go on as usual.
    NotInet,
    /// A TCP socket: connect this twin instead, then [`Twin::target`] it.
    Twin(Twin),
}

/// A new socket standing in for the caller's descriptor `number`.
#[derive(Debug)]
pub struct Twin {
    pub fd: OwnedFd,
    pub proto: Proto,
    pub number: i32,
    pub cloexec: bool,
}

/// TCP states as `/proc/net/tcp` shows them.
const TCP_SYN_SENT: u8 = 0x02;

impl Swap {
    /// Notes that the caller bound its socket `fd` (the bind itself goes on).
    pub fn note_bind(&self, n: &Notif, fd: u64) {
        let Ok(number) = i32::try_from(fd) else {
            return;
        };
        if let Some(ino) = socket_inode(n.pid, number) {
            lock(&self.bound).insert(ino);
        }
    }

    /// What the caller's descriptor `fd` is, with a twin for a TCP socket that may be
    /// connected; `Err(errno)` answers the call.
    pub fn twin(&self, n: &Notif, fd: u64) -> Result<Found, i32> {
        let number = i32::try_from(fd).map_err(|_| libc::EBADF)?;
        let path = format!("/proc/{}/fd/{number}", n.pid);
        let mut name = [0u8; 32];
        let len = match rustix::fs::getxattr(&*path, "system.sockprotoname", &mut name[..]) {
            Ok(len) => len,
            Err(rustix::io::Errno::NOENT) => return Err(libc::EBADF),
            Err(rustix::io::Errno::NODATA | rustix::io::Errno::OPNOTSUPP) => {
                return Err(libc::ENOTSOCK)
            }
            Err(e) => {
                warn!(
                    "cannot tell what fd {number} of {} is: {e}; refusing",
                    n.pid
                );
                return Err(libc::EPERM);
            }
        };
        let name = name[..len].strip_suffix(b"\0").unwrap_or(&name[..len]);
        let family = match name {
            b"TCP" => AddressFamily::INET,
            b"TCPv6" => AddressFamily::INET6,
            b"NETLINK" => return Ok(Found::NotInet),
            _ if name.starts_with(b"UNIX") => return Ok(Found::NotInet),
            _ => {
                debug!(
                    "connect on a {} socket refused",
                    String::from_utf8_lossy(name)
                );
                return Err(libc::EPERM);
            }
        };
        let ino = socket_inode(n.pid, number).ok_or(libc::EBADF)?;
        let table = if family == AddressFamily::INET6 {
            "tcp6"
        } else {
            "tcp"
        };
        let table = std::fs::read_to_string(format!("/proc/{}/net/{table}", n.pid))
            .map_err(|_| libc::EPERM)?;
        match tcp_state(&table, ino) {
            Some(TCP_SYN_SENT) => return Err(libc::EALREADY),
            Some(_) => return Err(libc::EISCONN),
            None => {}
        }
        if lock(&self.bound).contains(&ino) {
            warn!(
                "connect by {} on a socket bound before: its address cannot be carried \
                 over without pidfd_getfd; EOPNOTSUPP",
                n.pid
            );
            return Err(libc::EOPNOTSUPP);
        }
        let flags = std::fs::read_to_string(format!("/proc/{}/fdinfo/{number}", n.pid))
            .ok()
            .and_then(|info| fdinfo_flags(&info))
            .ok_or(libc::EBADF)?;
        let mut sock_flags = SocketFlags::CLOEXEC;
        if flags & libc::O_NONBLOCK as u32 != 0 {
            sock_flags |= SocketFlags::NONBLOCK;
        }
        let fd = rustix::net::socket_with(family, SocketType::STREAM, sock_flags, None)
            .map_err(|e| e.raw_os_error())?;
        Ok(Found::Twin(Twin {
            fd,
            proto: Proto::Tcp,
            number,
            cloexec: flags & libc::O_CLOEXEC as u32 != 0,
        }))
    }
}

/// The inode of the socket that is descriptor `number` of `pid`.
fn socket_inode(pid: u32, number: i32) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{number}")).ok()?;
    parse_socket_link(link.to_str()?)
}

/// `socket:[INODE]` -> INODE.
fn parse_socket_link(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The `flags:` line of a `/proc/PID/fdinfo/N` text (octal).
fn fdinfo_flags(info: &str) -> Option<u32> {
    let line = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

/// The state of the socket with inode `ino` in a `/proc/net/tcp` text; `None` when it
/// is not there (neither listening nor connected nor connecting).
fn tcp_state(table: &str, ino: u64) -> Option<u8> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
        let inode: u64 = fields.get(9)?.parse().ok()?;
        (inode == ino)
            .then(|| u8::from_str_radix(fields.get(3)?, 16).ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_texts_parse() {
        assert_eq!(parse_socket_link("socket:[12345]"), Some(12345));
        assert_eq!(parse_socket_link("pipe:[12345]"), None);
        assert_eq!(parse_socket_link("socket:[12345"), None);
        let info = "pos:\t0\nflags:\t02004002\nmnt_id:\t9\nino:\t12345\n";
        let flags = fdinfo_flags(info).unwrap();
        assert_ne!(flags & libc::O_NONBLOCK as u32, 0);
        assert_ne!(flags & libc::O_CLOEXEC as u32, 0);
        assert_eq!(fdinfo_flags("pos:\t0\n"), None);
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when \
                     retrnsmt   uid  timeout inode\n   \
                     0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 \
                     00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n   \
                     1: 0100007F:9C40 0100007F:1F90 02 00000000:00000000 00:00000000 \
                     00000000     0        0 4343 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(tcp_state(table, 4242), Some(0x0A));
        assert_eq!(tcp_state(table, 4343), Some(TCP_SYN_SENT));
        assert_eq!(tcp_state(table, 1), None);
        assert_eq!(tcp_state("header only\n", 4242), None);
    }
}
