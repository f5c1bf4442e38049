//! Network: TCP `connect` and `bind` checked against the rules and performed on the
//! caller's behalf.
//!
//! The address is a pointer another thread of the caller could rewrite after we looked,
//! so the call is never answered CONTINUE for a TCP socket: the supervisor takes a
//! duplicate of the caller's socket (`pidfd_getfd`, same open file description) and
//! connects or binds it itself, with the address it checked, then returns the result.
//! The protocol comes from the socket (SO_DOMAIN, SO_TYPE), not from the address.
//! Other sockets (unix, netlink) continue: their calls cannot reach TCP, and Landlock
//! still refuses any TCP connect or bind the child makes itself.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, OwnedFd};

use log::{debug, warn};
use rustix::net::{sockopt, AddressFamily, SocketType};

use super::{Ctx, Decision, Handler};
use crate::procfs;
use crate::seccomp::notif::{Notif, Response};
use crate::sys;

pub const CONNECT: Handler = connect;
pub const BIND: Handler = bind;

/// Longest sockaddr we read (`sizeof(struct sockaddr_storage)`).
const SOCKADDR_MAX: usize = 128;

fn errno(e: i32) -> Decision {
    Decision::Respond(Response::Errno(e))
}

/// What the call is about, once the socket and the address are in hand.
enum Call {
    /// Not a TCP socket: let the kernel run the call as made.
    NotTcp,
    /// A TCP socket (our duplicate) and the address the caller passed.
    Tcp(OwnedFd, SocketAddr),
    /// `connect(AF_UNSPEC)`: dissolve the association.
    Unspec(OwnedFd),
}

/// Takes a duplicate of the caller's socket `args[0]` and reads the sockaddr at
/// `args[1]` (`args[2]` bytes).
fn take(ctx: &Ctx, n: &Notif) -> Result<Call, Decision> {
    let tgid = procfs::tgid_of(n.pid).ok_or(errno(libc::ESRCH))?;
    let pid = rustix::process::Pid::from_raw(tgid).ok_or(errno(libc::ESRCH))?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| errno(e.raw_os_error()))?;
    let sock = match sys::pidfd_getfd(pidfd.as_fd(), n.args[0] as i32) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => return Err(errno(libc::EBADF)),
        Err(e) => {
            warn!(
                "cannot take socket {} of process {tgid}: {e}; refusing",
                n.args[0]
            );
            return Err(errno(libc::EPERM));
        }
    };
    let domain = sockopt::socket_domain(&sock).map_err(|e| errno(e.raw_os_error()))?;
    let kind = sockopt::socket_type(&sock).map_err(|e| errno(e.raw_os_error()))?;
    if (domain != AddressFamily::INET && domain != AddressFamily::INET6)
        || kind != SocketType::STREAM
    {
        return Ok(Call::NotTcp);
    }
    let len = n.args[2] as usize;
    if len > SOCKADDR_MAX {
        return Err(errno(libc::EINVAL));
    }
    let mut buf = [0u8; SOCKADDR_MAX];
    let read = sys::process_vm_read(n.pid as i32, n.args[1], &mut buf[..len])
        .map_err(|_| errno(libc::EFAULT))?;
    if read != len {
        return Err(errno(libc::EFAULT));
    }
    if !ctx.listener.id_valid(n.id) {
        return Err(errno(libc::EINTR));
    }
    match parse_sockaddr(&buf[..len]) {
        Ok(Some(addr)) => Ok(Call::Tcp(sock, addr)),
        Ok(None) => Ok(Call::Unspec(sock)),
        Err(e) => Err(errno(e)),
    }
}

/// Decodes a `struct sockaddr_in`/`sockaddr_in6` (`Ok(None)` for AF_UNSPEC).
fn parse_sockaddr(b: &[u8]) -> Result<Option<SocketAddr>, i32> {
    if b.len() < 2 {
        return Err(libc::EINVAL);
    }
    let family = i32::from(u16::from_ne_bytes([b[0], b[1]]));
    match family {
        libc::AF_UNSPEC => Ok(None),
        libc::AF_INET if b.len() >= 16 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            Ok(Some(SocketAddr::V4(SocketAddrV4::new(ip, port))))
        }
        libc::AF_INET6 if b.len() >= 28 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let flow = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&b[8..24]);
            let scope = u32::from_ne_bytes([b[24], b[25], b[26], b[27]]);
            Ok(Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flow,
                scope,
            ))))
        }
        libc::AF_INET | libc::AF_INET6 => Err(libc::EINVAL),
        _ => Err(libc::EAFNOSUPPORT),
    }
}

fn result(r: rustix::io::Result<()>) -> Decision {
    Decision::Respond(match r {
        Ok(()) => Response::Value(0),
        Err(e) => Response::Errno(e.raw_os_error()),
    })
}

fn connect(ctx: &Ctx, n: &Notif) -> Decision {
    match take(ctx, n) {
        Err(d) => d,
        Ok(Call::NotTcp) => Decision::Respond(Response::Continue),
        Ok(Call::Unspec(sock)) => result(rustix::net::connect_unspec(&sock)),
        Ok(Call::Tcp(sock, addr)) => {
            if !ctx.net.connect_allowed(addr.ip(), addr.port()) {
                debug!("connect by {} to {addr} refused by the rules", n.pid);
                return errno(libc::ECONNREFUSED);
            }
            debug!("connect by {} to {addr} allowed", n.pid);
            result(match addr {
                SocketAddr::V4(a) => rustix::net::connect(&sock, &a),
                SocketAddr::V6(a) => rustix::net::connect(&sock, &a),
            })
        }
    }
}

fn bind(ctx: &Ctx, n: &Notif) -> Decision {
    match take(ctx, n) {
        Err(d) => d,
        Ok(Call::NotTcp) => Decision::Respond(Response::Continue),
        Ok(Call::Unspec(_)) => errno(libc::EAFNOSUPPORT),
        Ok(Call::Tcp(sock, addr)) => {
            let port = addr.port();
            if !ctx.bind_ports.contains(port) || ctx.net.deny_bind.contains(port) {
                debug!("bind by {} to {addr} refused", n.pid);
                return errno(libc::EACCES);
            }
            result(match addr {
                SocketAddr::V4(a) => rustix::net::bind(&sock, &a),
                SocketAddr::V6(a) => rustix::net::bind(&sock, &a),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sockaddr_in(ip: [u8; 4], port: u16) -> Vec<u8> {
        let mut b = vec![0u8; 16];
        b[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        b[2..4].copy_from_slice(&port.to_be_bytes());
        b[4..8].copy_from_slice(&ip);
        b
    }

    #[test]
    fn decodes_sockaddrs() {
        assert_eq!(
            parse_sockaddr(&sockaddr_in([127, 0, 0, 1], 8080)),
            Ok(Some("127.0.0.1:8080".parse().unwrap()))
        );
        let mut v6 = vec![0u8; 28];
        v6[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        v6[2..4].copy_from_slice(&443u16.to_be_bytes());
        v6[23] = 1;
        assert_eq!(parse_sockaddr(&v6), Ok(Some("[::1]:443".parse().unwrap())));
        assert_eq!(
            parse_sockaddr(&(libc::AF_UNSPEC as u16).to_ne_bytes()),
            Ok(None)
        );
        assert_eq!(
            parse_sockaddr(&sockaddr_in([1, 2, 3, 4], 1)[..8]),
            Err(libc::EINVAL)
        );
        assert_eq!(parse_sockaddr(&[1]), Err(libc::EINVAL));
        let unix = (libc::AF_UNIX as u16).to_ne_bytes();
        assert_eq!(parse_sockaddr(&unix), Err(libc::EAFNOSUPPORT));
    }
}
