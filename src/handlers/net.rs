//! Network: `connect`, `bind` and the UDP sends, checked against the rules and performed
//! on the caller's behalf.
//!
//! Addresses (and for sends, the data) are in memory another thread of the caller could
//! rewrite after we looked, so an inet call is never answered CONTINUE when it could
//! reach a destination: the supervisor takes a duplicate of the caller's socket
//! (`pidfd_getfd`, the same open file description), makes the call itself with the
//! copy it checked, and returns the result. The protocol comes from the socket
//! (SO_DOMAIN, SO_TYPE), not from the address. Calls on other sockets (unix, netlink)
//! continue: they cannot reach an IP, and `fdguard` makes sure no other thread swaps an
//! inet socket onto that descriptor number before the kernel looks it up again. TCP
//! sends are made on the caller's behalf too (without an address, which a stream socket
//! ignores; Fast Open is refused by the filter), so no inet send is ever answered
//! CONTINUE. Binds are checked against the bind ports for TCP and UDP alike.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, OwnedFd};

use log::{debug, warn};
use rustix::fs::OFlags;
use rustix::net::{sockopt, AddressFamily, SocketType};

use super::swap::Found;
use super::{caller_fd, Ctx, Decision, Handler};
use crate::dynamic::{Category, EventKind};
use crate::policy::net::Proto;
use crate::procfs;
use crate::seccomp::notif::{Notif, Response};
use crate::state::lock;
use crate::sys;

pub const CONNECT: Handler = connect;
pub const BIND: Handler = bind;
pub const SENDTO: Handler = sendto;
pub const SENDMSG: Handler = sendmsg;
pub const SENDMMSG: Handler = sendmmsg;
pub const GETSOCKNAME: Handler = getsockname;
pub const GETPEERNAME: Handler = getpeername;

/// Longest sockaddr we read (`sizeof(struct sockaddr_storage)`).
const SOCKADDR_MAX: usize = 128;
/// Largest datagram payload we forward (the UDP maximum).
const DATAGRAM_MAX: usize = 65_535;
/// Most bytes of one TCP send we forward; a longer send is sent short (legal for a
/// stream socket; callers loop).
const STREAM_CHUNK: usize = 1 << 20;
/// Largest ancillary data we forward.
const CONTROL_MAX: usize = 4096;
/// `UIO_MAXIOV`.
const IOV_MAX: usize = 1024;

fn errno(e: i32) -> Decision {
    Decision::Respond(Response::Errno(e))
}

fn carry_on() -> Decision {
    Decision::Respond(Response::Continue)
}

/// The caller's socket, when it is an inet socket the rules govern.
struct Socket {
    fd: OwnedFd,
    proto: Proto,
    /// A twin (`swap`): once connected, it becomes this descriptor number of the
    /// caller's, close-on-exec or not.
    replaces: Option<(i32, bool)>,
}

/// Takes a duplicate of the caller's socket `fd`; `None` when it is not TCP or UDP over
/// IPv4/IPv6 (the call may continue).
fn socket(n: &Notif, fd: u64) -> Result<Option<Socket>, Decision> {
    let sock = caller_fd(n, fd)?;
    let domain = sockopt::socket_domain(&sock).map_err(|e| errno(e.raw_os_error()))?;
    if domain != AddressFamily::INET && domain != AddressFamily::INET6 {
        return Ok(None);
    }
    let kind = sockopt::socket_type(&sock).map_err(|e| errno(e.raw_os_error()))?;
    let protocol = sockopt::socket_protocol(&sock)
        .map_err(|e| errno(e.raw_os_error()))?
        .map_or(0, |p| p.as_raw().get() as i32);
    let proto = match (kind, protocol) {
        (SocketType::STREAM, _) => Proto::Tcp,
        (SocketType::DGRAM, libc::IPPROTO_ICMP | libc::IPPROTO_ICMPV6) => Proto::Icmp,
        (SocketType::DGRAM, _) => Proto::Udp,
        // No other inet socket can be created under the filter.
        _ => return Err(errno(libc::EPERM)),
    };
    Ok(Some(Socket {
        fd: sock,
        proto,
        replaces: None,
    }))
}

/// Reads `len` bytes at `addr` in the caller.
fn read(n: &Notif, addr: u64, len: usize, buf: &mut [u8]) -> Result<(), Decision> {
    match sys::process_vm_read(n.pid as i32, addr, &mut buf[..len]) {
        Ok(read) if read == len => Ok(()),
        _ => Err(errno(libc::EFAULT)),
    }
}

/// Reads and decodes the sockaddr at `addr` (`len` bytes); `Ok(None)` for AF_UNSPEC.
fn read_sockaddr(n: &Notif, addr: u64, len: u64) -> Result<Option<SocketAddr>, Decision> {
    let len = usize::try_from(len).map_err(|_| errno(libc::EINVAL))?;
    if len > SOCKADDR_MAX {
        return Err(errno(libc::EINVAL));
    }
    let mut buf = [0u8; SOCKADDR_MAX];
    read(n, addr, len, &mut buf)?;
    parse_sockaddr(&buf[..len]).map_err(errno)
}

/// Decodes a `struct sockaddr_in`/`sockaddr_in6` (`Ok(None)` for AF_UNSPEC).
pub fn parse_sockaddr(b: &[u8]) -> Result<Option<SocketAddr>, i32> {
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

/// Encodes `addr` as the kernel's sockaddr, for a raw sendmsg.
fn encode_sockaddr(addr: &SocketAddr) -> Vec<u8> {
    match addr {
        SocketAddr::V4(a) => {
            let mut b = vec![0u8; 16];
            b[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.ip().octets());
            b
        }
        SocketAddr::V6(a) => {
            let mut b = vec![0u8; 28];
            b[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.flowinfo().to_be_bytes());
            b[8..24].copy_from_slice(&a.ip().octets());
            b[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
            b
        }
    }
}

/// Whether the rules let `proto` reach `addr`; logs the decision.
fn permitted(ctx: &Ctx, n: &Notif, proto: Proto, addr: &SocketAddr) -> bool {
    let ok = ctx.net.allowed(proto, addr.ip(), addr.port());
    debug!(
        "{} by {} to {addr}: {}",
        proto.name(),
        n.pid,
        if ok { "allowed" } else { "refused" }
    );
    ok
}

/// The dynamic policy's word on a call the static rules allow: `None` to go ahead,
/// or the refusal (`refusal` when a run-time restriction excludes the address).
fn ask(
    ctx: &Ctx,
    n: &Notif,
    syscall: &'static str,
    kind: EventKind,
    refusal: Decision,
) -> Option<Decision> {
    let dynamic = ctx.dynamic.as_ref()?;
    let pid = procfs::tgid_of(n.pid).unwrap_or(n.pid as i32);
    if let EventKind::Network { to, .. } = &kind {
        if !lock(&dynamic.limits).allows(pid, to.ip()) {
            debug!("{syscall} by {pid} to {to}: refused by a run-time restriction");
            return Some(refusal);
        }
    }
    super::ask_dynamic(ctx, dynamic, pid, syscall, Category::Network, kind)
}

/// The errno a refused call gets: ECONNREFUSED for a TCP connect, EACCES otherwise.
fn refused(proto: Proto, connecting: bool) -> Decision {
    errno(if connecting && proto == Proto::Tcp {
        libc::ECONNREFUSED
    } else {
        libc::EACCES
    })
}

fn result<T: Into<i64>>(r: std::io::Result<T>) -> Decision {
    Decision::Respond(match r {
        Ok(v) => Response::Value(v.into()),
        Err(e) => Response::Errno(e.raw_os_error().unwrap_or(libc::EIO)),
    })
}

fn done(r: rustix::io::Result<()>) -> Decision {
    result(r.map(|()| 0i64).map_err(std::io::Error::from))
}

fn connect(ctx: &Ctx, n: &Notif) -> Decision {
    let found = match &ctx.swap {
        None => socket(n, n.args[0]),
        Some(swap) => match swap.twin(n, n.args[0]) {
            Ok(Found::NotInet) => Ok(None),
            Ok(Found::Twin(t)) => Ok(Some(Socket {
                fd: t.fd,
                proto: t.proto,
                replaces: Some((t.number, t.cloexec)),
            })),
            Err(e) => Err(errno(e)),
        },
    };
    let sock = match found {
        Ok(Some(s)) => s,
        Ok(None) => return super::fdguard::non_inet(ctx, n, CONNECT),
        Err(d) => return d,
    };
    let addr = match read_sockaddr(n, n.args[1], n.args[2]) {
        Ok(a) => a,
        Err(d) => return d,
    };
    if !ctx.listener.id_valid(n.id) {
        return errno(libc::EINTR);
    }
    match addr.map(|a| effective_destination(&sock, a)) {
        None => done(rustix::net::connect_unspec(&sock.fd)),
        Some(addr) if !permitted(ctx, n, sock.proto, &addr) => refused(sock.proto, true),
        Some(addr) => {
            let kind = EventKind::Network {
                proto: sock.proto,
                to: addr,
            };
            if let Some(d) = ask(ctx, n, "connect", kind, refused(sock.proto, true)) {
                return d;
            }
            let to = real_destination(ctx, sock.proto, addr);
            connect_on_behalf(ctx, n, sock, to)
        }
    }
}

/// Connects in progress on callers' behalf, at most, per sandbox; past it a blocking
/// connect fails with EAGAIN (as when the kernel is out of resources for it).
const MAX_CONNECTING: usize = 256;

/// Connects the caller's socket to `to`. A blocking TCP connect is started
/// non-blocking and handed to the poll loop, which answers when it ends: no worker
/// waits for a peer that may take minutes (the caller still waits, as it would in the
/// kernel). The socket is the caller's own open file description, so O_NONBLOCK is set
/// only around the call: another thread of the caller's that uses the socket at that
/// very moment could see EAGAIN.
fn connect_on_behalf(ctx: &Ctx, n: &Notif, sock: Socket, to: SocketAddr) -> Decision {
    let connect = |fd: &OwnedFd| match to {
        SocketAddr::V4(a) => rustix::net::connect(fd, &a),
        SocketAddr::V6(a) => rustix::net::connect(fd, &a),
    };
    let flags = match rustix::fs::fcntl_getfl(&sock.fd) {
        Ok(f) => f,
        Err(e) => return done(Err(e)),
    };
    if sock.proto != Proto::Tcp || flags.contains(OFlags::NONBLOCK) {
        let connected = connect(&sock.fd);
        if matches!(connected, Ok(()) | Err(rustix::io::Errno::INPROGRESS)) {
            if let Err(d) = install(ctx, n, &sock) {
                return d;
            }
        }
        return done(connected);
    }
    if lock(&ctx.connecting).len() >= MAX_CONNECTING {
        warn!(
            "connect by {}: {MAX_CONNECTING} connects already in progress; EAGAIN",
            n.pid
        );
        return errno(libc::EAGAIN);
    }
    if let Err(e) = rustix::fs::fcntl_setfl(&sock.fd, flags | OFlags::NONBLOCK) {
        return done(Err(e));
    }
    let started = connect(&sock.fd);
    let _ = rustix::fs::fcntl_setfl(&sock.fd, flags);
    if matches!(started, Ok(()) | Err(rustix::io::Errno::INPROGRESS)) {
        if let Err(d) = install(ctx, n, &sock) {
            return d;
        }
    }
    match started {
        Err(rustix::io::Errno::INPROGRESS) => Decision::Connecting {
            twin: sock.replaces.is_some(),
            socket: sock.fd,
        },
        other => done(other),
    }
}

/// A twin that connected (or is connecting) takes the caller's descriptor's place.
fn install(ctx: &Ctx, n: &Notif, sock: &Socket) -> Result<(), Decision> {
    let Some((number, cloexec)) = sock.replaces else {
        return Ok(());
    };
    ctx.listener
        .place_fd(n.id, sock.fd.as_fd(), number, cloexec)
        .map_err(|e| {
            warn!(
                "install a socket as fd {number} of {}: {e}; refusing",
                n.pid
            );
            errno(libc::EPERM)
        })
}

/// Where the kernel really sends a connection or datagram addressed to `to` from
/// `sock`, so that rules are matched against that (hazard 16): the unspecified address
/// means this host (`0.0.0.0`: the socket's bound IPv4 address, or 127.0.0.1 when it
/// has none; `::`: ::1, or the IPv4-mapped loopback on an IPv4-mapped socket), and
/// `::ffff:0.0.0.0` is IPv4's `0.0.0.0`. Everything else is unchanged.
fn effective_destination(sock: &Socket, to: SocketAddr) -> SocketAddr {
    let local = rustix::net::getsockname(&sock.fd)
        .ok()
        .and_then(|a| SocketAddr::try_from(a).ok());
    effective_ip(to, local.map(|l| l.ip()))
}

/// [`effective_destination`] given the socket's local address, when it has one.
fn effective_ip(to: SocketAddr, local: Option<IpAddr>) -> SocketAddr {
    let v4_loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let ip = match to.ip() {
        IpAddr::V4(a) if a.is_unspecified() => match local {
            Some(IpAddr::V4(l)) if !l.is_unspecified() => IpAddr::V4(l),
            _ => v4_loopback,
        },
        IpAddr::V6(a) if a.is_unspecified() => match local {
            Some(IpAddr::V6(l)) if l.to_ipv4_mapped().is_some() => {
                IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped())
            }
            _ => IpAddr::V6(Ipv6Addr::LOCALHOST),
        },
        IpAddr::V6(a) if a.to_ipv4_mapped().is_some_and(|v4| v4.is_unspecified()) => {
            let v4 = match local.and_then(|l| match l {
                IpAddr::V6(l) => l.to_ipv4_mapped(),
                IpAddr::V4(l) => Some(l),
            }) {
                Some(l) if !l.is_unspecified() => l,
                _ => Ipv4Addr::LOCALHOST,
            };
            IpAddr::V6(v4.to_ipv6_mapped())
        }
        other => other,
    };
    SocketAddr::new(ip, to.port())
}

/// Whether `ip` is a loopback address (IPv4-mapped ones included).
fn loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Where a connection or datagram to `to` really goes: under `--port-remap`, a loopback
/// port this sandbox bound elsewhere is replaced by the real one.
fn real_destination(ctx: &Ctx, proto: Proto, to: SocketAddr) -> SocketAddr {
    let Some(ports) = &ctx.ports else {
        return to;
    };
    if !loopback(to.ip()) {
        return to;
    }
    match lock(ports).real(proto, to.port()) {
        Some(real) => SocketAddr::new(to.ip(), real),
        None => to,
    }
}

fn bind_to(sock: &Socket, addr: &SocketAddr) -> rustix::io::Result<()> {
    match addr {
        SocketAddr::V4(a) => rustix::net::bind(&sock.fd, a),
        SocketAddr::V6(a) => rustix::net::bind(&sock.fd, a),
    }
}

/// The local port `sock` is bound to.
fn local_port(sock: &Socket) -> rustix::io::Result<u16> {
    let any = rustix::net::getsockname(&sock.fd)?;
    SocketAddr::try_from(any)
        .map(|a| a.port())
        .map_err(|_| rustix::io::Errno::AFNOSUPPORT)
}

fn bind(ctx: &Ctx, n: &Notif) -> Decision {
    if let Some(swap) = &ctx.swap {
        // Trapped only to note bound sockets: no bind rule is in force (`swap`).
        swap.note_bind(n, n.args[0]);
        return carry_on();
    }
    let sock = match socket(n, n.args[0]) {
        Ok(Some(s)) => s,
        Ok(None) => return super::fdguard::non_inet(ctx, n, BIND),
        Err(d) => return d,
    };
    let addr = match read_sockaddr(n, n.args[1], n.args[2]) {
        Ok(Some(a)) => a,
        Ok(None) => return errno(libc::EAFNOSUPPORT),
        Err(d) => return d,
    };
    if !ctx.listener.id_valid(n.id) {
        return errno(libc::EINTR);
    }
    let port = addr.port();
    let listed = ctx.bind_ports.contains(port) && !ctx.net.deny_bind.contains(port);
    let refused = match sock.proto {
        Proto::Tcp => !listed,
        // Port 0 picks an ephemeral port, as the first send on an unbound socket does.
        Proto::Udp => port != 0 && !listed,
        // A ping socket's "port" is its echo identifier.
        Proto::Icmp => false,
    };
    if refused {
        debug!("bind by {} to {addr} refused", n.pid);
        return errno(libc::EACCES);
    }
    // The bind is made with sandlet's privileges: a port the kernel keeps for
    // CAP_NET_BIND_SERVICE needs the caller to hold it.
    if sock.proto != Proto::Icmp && privileged(port) && !procfs::has_capability(n.pid, 10) {
        debug!("bind by {} to privileged {addr} refused", n.pid);
        return errno(libc::EACCES);
    }
    let kind = EventKind::Bind {
        proto: sock.proto,
        port,
    };
    if let Some(d) = ask(ctx, n, "bind", kind, errno(libc::EACCES)) {
        return d;
    }
    let Some(ports) = ctx.ports.as_ref().filter(|_| sock.proto != Proto::Icmp) else {
        return done(bind_to(&sock, &addr));
    };
    let real = match bind_to(&sock, &addr) {
        Ok(()) => port,
        Err(rustix::io::Errno::ADDRINUSE) if port != 0 => {
            let elsewhere = SocketAddr::new(addr.ip(), 0);
            match bind_to(&sock, &elsewhere).and_then(|()| local_port(&sock)) {
                Ok(real) => real,
                Err(e) => return errno(e.raw_os_error()),
            }
        }
        Err(e) => return errno(e.raw_os_error()),
    };
    if port != 0 {
        debug!(
            "{} port {port} of {} is real port {real}",
            sock.proto.name(),
            n.pid
        );
        lock(ports).insert(sock.proto, port, real);
    }
    Decision::Respond(Response::Value(0))
}

/// Whether binding `port` takes CAP_NET_BIND_SERVICE
/// (`net.ipv4.ip_unprivileged_port_start`, 1024 when unreadable).
fn privileged(port: u16) -> bool {
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(1024);
    port != 0 && u32::from(port) < start
}

/// `getsockname(fd, addr, addrlen)` / `getpeername`: under `--port-remap`, the address
/// with its port as the sandbox knows it. Made on the caller's socket (a duplicate);
/// only the answer is written to the caller's memory.
fn sockname(ctx: &Ctx, n: &Notif, peer: bool) -> Decision {
    let sock = match socket(n, n.args[0]) {
        Ok(Some(s)) => s,
        Ok(None) => return carry_on(),
        Err(d) => return d,
    };
    let Some(ports) = &ctx.ports else {
        return carry_on();
    };
    let any = if peer {
        rustix::net::getpeername(&sock.fd).and_then(|a| a.ok_or(rustix::io::Errno::NOTCONN))
    } else {
        rustix::net::getsockname(&sock.fd)
    };
    let addr = match any.map(SocketAddr::try_from) {
        Ok(Ok(a)) => a,
        Ok(Err(_)) => return errno(libc::EAFNOSUPPORT),
        Err(e) => return errno(e.raw_os_error()),
    };
    let virt = SocketAddr::new(addr.ip(), lock(ports).virt(sock.proto, addr.port()));
    let raw = encode_sockaddr(&virt);
    let pid = n.pid as i32;
    let mut len = [0u8; 4];
    if !matches!(sys::process_vm_read(pid, n.args[2], &mut len), Ok(4)) {
        return errno(libc::EFAULT);
    }
    let room = u32::from_ne_bytes(len) as usize;
    let shown = room.min(raw.len());
    let wrote = sys::process_vm_write(pid, n.args[1], &raw[..shown]);
    let wrote_len = sys::process_vm_write(pid, n.args[2], &(raw.len() as u32).to_ne_bytes());
    match (wrote, wrote_len) {
        (Ok(a), Ok(4)) if a == shown => Decision::Respond(Response::Value(0)),
        _ => errno(libc::EFAULT),
    }
}

fn getsockname(ctx: &Ctx, n: &Notif) -> Decision {
    sockname(ctx, n, false)
}

fn getpeername(ctx: &Ctx, n: &Notif) -> Decision {
    sockname(ctx, n, true)
}

/// One datagram to send on the caller's behalf.
struct Datagram {
    to: Option<SocketAddr>,
    data: Vec<u8>,
    control: Vec<u8>,
}

/// Checks and sends `d` on `sock` with `flags`; the byte count or the refusal. A TCP
/// socket ignores the address, so none is passed.
fn send(
    ctx: &Ctx,
    n: &Notif,
    syscall: &'static str,
    sock: &Socket,
    d: &Datagram,
    flags: u64,
) -> Decision {
    if !ctx.listener.id_valid(n.id) {
        return errno(libc::EINTR);
    }
    if sock.proto == Proto::Tcp {
        return result(
            sys::sendmsg_raw(sock.fd.as_fd(), None, &d.data, &d.control, flags as i32)
                .map(|sent| sent as i64),
        );
    }
    let to = d.to.map(|to| effective_destination(sock, to));
    if let Some(to) = &to {
        if !permitted(ctx, n, sock.proto, to) {
            return refused(sock.proto, false);
        }
        let kind = EventKind::Network {
            proto: sock.proto,
            to: *to,
        };
        if let Some(refusal) = ask(ctx, n, syscall, kind, refused(sock.proto, false)) {
            return refusal;
        }
    }
    let name = to.map(|to| encode_sockaddr(&real_destination(ctx, sock.proto, to)));
    result(
        sys::sendmsg_raw(
            sock.fd.as_fd(),
            name.as_deref(),
            &d.data,
            &d.control,
            flags as i32,
        )
        .map(|sent| sent as i64),
    )
}

/// `sendto(fd, buf, len, flags, addr, addrlen)` with a non-NULL address.
fn sendto(ctx: &Ctx, n: &Notif) -> Decision {
    let sock = match socket(n, n.args[0]) {
        Ok(Some(s)) => s,
        Ok(None) => return super::fdguard::non_inet(ctx, n, SENDTO),
        Err(d) => return d,
    };
    let mut len = n.args[2] as usize;
    let to = match sock.proto {
        Proto::Tcp => {
            len = len.min(STREAM_CHUNK);
            None
        }
        _ if len > DATAGRAM_MAX => return errno(libc::EMSGSIZE),
        _ => match read_sockaddr(n, n.args[4], n.args[5]) {
            Ok(a) => a,
            Err(d) => return d,
        },
    };
    let mut data = vec![0u8; len];
    if let Err(d) = read(n, n.args[1], len, &mut data) {
        return d;
    }
    let d = Datagram {
        to,
        data,
        control: Vec::new(),
    };
    send(ctx, n, "sendto", &sock, &d, n.args[3])
}

/// Reads the message described by the `struct msghdr` at `at` (for a stream socket:
/// no address, and at most `STREAM_CHUNK` bytes of data).
fn read_msghdr(n: &Notif, at: u64, stream: bool) -> Result<Datagram, Decision> {
    let pid = n.pid as i32;
    let msg = sys::read_remote_msghdr(pid, at).map_err(|_| errno(libc::EFAULT))?;
    let to = if stream || msg.msg_name.is_null() {
        None
    } else {
        read_sockaddr(n, msg.msg_name as usize as u64, u64::from(msg.msg_namelen))?
    };
    let iovlen = msg.msg_iovlen as usize;
    if iovlen > IOV_MAX {
        return Err(errno(libc::EMSGSIZE));
    }
    let iovs = sys::read_remote_iovecs(pid, msg.msg_iov as usize as u64, iovlen)
        .map_err(|_| errno(libc::EFAULT))?;
    let mut total = iovs
        .iter()
        .map(|&(_, l)| l)
        .fold(0usize, usize::saturating_add);
    if stream {
        total = total.min(STREAM_CHUNK);
    } else if total > DATAGRAM_MAX {
        return Err(errno(libc::EMSGSIZE));
    }
    let mut data = vec![0u8; total];
    let mut at_byte = 0;
    for (base, len) in iovs {
        let len = len.min(total - at_byte);
        if len > 0 {
            read(n, base, len, &mut data[at_byte..])?;
            at_byte += len;
        }
    }
    let controllen = msg.msg_controllen as usize;
    if controllen > CONTROL_MAX {
        return Err(errno(libc::ENOBUFS));
    }
    let mut control = vec![0u8; controllen];
    if controllen > 0 {
        read(n, msg.msg_control as usize as u64, controllen, &mut control)?;
    }
    Ok(Datagram { to, data, control })
}

/// `sendmsg(fd, msg, flags)`.
fn sendmsg(ctx: &Ctx, n: &Notif) -> Decision {
    let sock = match socket(n, n.args[0]) {
        Ok(Some(s)) => s,
        Ok(None) => return super::fdguard::non_inet(ctx, n, SENDMSG),
        Err(d) => return d,
    };
    match read_msghdr(n, n.args[1], sock.proto == Proto::Tcp) {
        Ok(d) => send(ctx, n, "sendmsg", &sock, &d, n.args[2]),
        Err(d) => d,
    }
}

/// `sendmmsg(fd, msgvec, vlen, flags)`: the first message is sent (a short count is a
/// valid answer; callers send the rest again) and its `msg_len` written back.
fn sendmmsg(ctx: &Ctx, n: &Notif) -> Decision {
    let sock = match socket(n, n.args[0]) {
        Ok(Some(s)) => s,
        Ok(None) => return super::fdguard::non_inet(ctx, n, SENDMMSG),
        Err(d) => return d,
    };
    if n.args[2] == 0 {
        return Decision::Respond(Response::Value(0));
    }
    let d = match read_msghdr(n, n.args[1], sock.proto == Proto::Tcp) {
        Ok(d) => d,
        Err(d) => return d,
    };
    match send(ctx, n, "sendmmsg", &sock, &d, n.args[3]) {
        Decision::Respond(Response::Value(sent)) => {
            // struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; }
            let len_at = n.args[1] + std::mem::size_of::<libc::msghdr>() as u64;
            let written = sys::process_vm_write(n.pid as i32, len_at, &(sent as u32).to_ne_bytes());
            match written {
                Ok(4) => Decision::Respond(Response::Value(1)),
                _ => errno(libc::EFAULT),
            }
        }
        other => other,
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
    fn unspecified_destinations_mean_this_host() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for (to, local, want) in [
            ("0.0.0.0:80", None, "127.0.0.1:80"),
            ("0.0.0.0:80", Some("0.0.0.0"), "127.0.0.1:80"),
            ("0.0.0.0:80", Some("10.1.2.3"), "10.1.2.3:80"),
            ("[::]:80", None, "[::1]:80"),
            ("[::]:80", Some("2001:db8::1"), "[::1]:80"),
            ("[::]:80", Some("::ffff:10.1.2.3"), "[::ffff:127.0.0.1]:80"),
            ("[::ffff:0.0.0.0]:80", Some("::"), "[::ffff:127.0.0.1]:80"),
            (
                "[::ffff:0.0.0.0]:80",
                Some("::ffff:10.1.2.3"),
                "[::ffff:10.1.2.3]:80",
            ),
            ("10.0.0.1:80", Some("10.1.2.3"), "10.0.0.1:80"),
            ("[::ffff:10.0.0.1]:80", None, "[::ffff:10.0.0.1]:80"),
        ] {
            assert_eq!(
                effective_ip(at(to), local.map(ip)),
                at(want),
                "{to} from {local:?}"
            );
        }
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

    #[test]
    fn encodes_what_it_decodes() {
        for a in ["127.0.0.1:53", "[::1]:8080", "[fe80::1%3]:9"] {
            let addr: SocketAddr = a.parse().unwrap();
            assert_eq!(
                parse_sockaddr(&encode_sockaddr(&addr)),
                Ok(Some(addr)),
                "{a}"
            );
        }
    }
}
