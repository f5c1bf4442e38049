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
//! its state comes from a `sock_diag` dump of the live TCP sockets (the kernel skips
//! time-wait entries, so their number costs little) and the answer is the kernel's
//! (EISCONN, EALREADY). The kind of socket comes from the `system.sockprotoname` attribute of
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

/// The TCP state of a connect in progress.
const TCP_SYN_SENT: u8 = 2;

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
        match tcp_state(family, ino) {
            Ok(Some(TCP_SYN_SENT)) => return Err(libc::EALREADY),
            Ok(Some(_)) => return Err(libc::EISCONN),
            Ok(None) => {}
            Err(e) => {
                warn!(
                    "cannot tell whether fd {number} of {} is connected: {e}; refusing",
                    n.pid
                );
                return Err(libc::EPERM);
            }
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

/// TCP states worth asking for: all but TIME_WAIT and CLOSE (a time-wait entry has no
/// socket, a closed socket is not in the tables), so that a table full of time-wait
/// entries costs little to skip.
const LIVE_STATES: u32 = 0xfff & !(1 << 0) & !(1 << 6) & !(1 << 7);
/// `SOCK_DIAG_BY_FAMILY`, `NLMSG_DONE`, `NLMSG_ERROR`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;

/// The state of the TCP socket with inode `ino` in this network namespace (the
/// sandbox's: sandlet makes none), from a `sock_diag` dump of the live states; `None`
/// when it is neither listening, connecting nor connected.
fn tcp_state(family: AddressFamily, ino: u64) -> std::io::Result<Option<u8>> {
    use rustix::net::netlink;
    let diag = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )?;
    rustix::net::sendto(
        &diag,
        &diag_request(family),
        rustix::net::SendFlags::empty(),
        &netlink::SocketAddrNetlink::new(0, 0),
    )?;
    let mut buf = vec![0u8; 32 << 10];
    loop {
        let (len, _) = rustix::net::recv(&diag, &mut buf[..], rustix::net::RecvFlags::empty())?;
        match diag_find(&buf[..len], ino) {
            Diag::Found(state) => return Ok(Some(state)),
            Diag::Done => return Ok(None),
            Diag::Failed(errno) => return Err(std::io::Error::from_raw_os_error(errno)),
            Diag::More => {}
        }
    }
}

/// A dump request (`nlmsghdr` + `inet_diag_req_v2`) for TCP sockets of `family` in the
/// live states.
fn diag_request(family: AddressFamily) -> [u8; 72] {
    let mut req = [0u8; 72];
    req[0..4].copy_from_slice(&72u32.to_ne_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    req[6..8].copy_from_slice(&flags.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    req[16] = family.as_raw() as u8;
    req[17] = libc::IPPROTO_TCP as u8;
    req[20..24].copy_from_slice(&LIVE_STATES.to_ne_bytes());
    req
}

/// What one datagram of a dump says about inode `ino`.
#[derive(Debug, PartialEq, Eq)]
enum Diag {
    Found(u8),
    More,
    Done,
    Failed(i32),
}

/// Walks the netlink messages in `buf` (each an `inet_diag_msg`: state at byte 1,
/// inode at byte 68 of the payload).
fn diag_find(mut buf: &[u8], ino: u64) -> Diag {
    let u32_at = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .map(|x| u32::from_ne_bytes([x[0], x[1], x[2], x[3]]))
    };
    while buf.len() >= 16 {
        let len = u32_at(buf, 0).map_or(0, |l| l as usize);
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        if len < 16 || len > buf.len() {
            return Diag::Failed(libc::EPROTO);
        }
        let payload = &buf[16..len];
        match kind {
            NLMSG_DONE => return Diag::Done,
            NLMSG_ERROR => {
                let errno = u32_at(payload, 0).map_or(0, |e| (e as i32).wrapping_neg());
                return Diag::Failed(if errno > 0 { errno } else { libc::EPROTO });
            }
            _ => {
                if let (Some(&state), Some(inode)) = (payload.get(1), u32_at(payload, 68)) {
                    if u64::from(inode) == ino {
                        return Diag::Found(state);
                    }
                }
            }
        }
        buf = buf.get((len + 3) & !3..).unwrap_or(&[]);
    }
    Diag::More
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
        let msg = |state: u8, inode: u32| {
            let mut m = vec![0u8; 16 + 72];
            m[0..4].copy_from_slice(&88u32.to_ne_bytes());
            m[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
            m[17] = state;
            m[16 + 68..16 + 72].copy_from_slice(&inode.to_ne_bytes());
            m
        };
        let mut two = msg(0x0A, 4242);
        two.extend(msg(TCP_SYN_SENT, 4343));
        assert_eq!(diag_find(&two, 4242), Diag::Found(0x0A));
        assert_eq!(diag_find(&two, 4343), Diag::Found(TCP_SYN_SENT));
        assert_eq!(diag_find(&two, 1), Diag::More);
        let mut done = vec![0u8; 20];
        done[0..4].copy_from_slice(&20u32.to_ne_bytes());
        done[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
        assert_eq!(diag_find(&done, 1), Diag::Done);
        let mut error = done.clone();
        error[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        error[16..20].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert_eq!(diag_find(&error, 1), Diag::Failed(libc::EPERM));
        assert_eq!(diag_find(&two[..40], 1), Diag::Failed(libc::EPROTO));
        assert_eq!(diag_request(AddressFamily::INET6)[16], libc::AF_INET6 as u8);
    }
}
