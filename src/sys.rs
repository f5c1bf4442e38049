//! Raw system calls that rustix does not cover, each wrapped once behind a safe fn.
//!
//! Everything here is a thin shim: one `unsafe` block per call with a `// SAFETY:` line,
//! `io::Result` out. Functions marked *async-signal-safe* allocate nothing and take no
//! lock, so `child.rs` may call them between `fork` and `execve`.

use std::ffi::{c_char, c_int, c_long, c_uint, CStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

fn cvt(ret: c_long) -> io::Result<c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_int(ret: c_int) -> io::Result<c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

// ---------------------------------------------------------------------------------------
// Landlock (linux/landlock.h)
// ---------------------------------------------------------------------------------------

/// `struct landlock_ruleset_attr` (ABI 6 layout; older kernels accept it while the
/// fields they do not know are zero).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct LandlockRulesetAttr {
    pub handled_access_fs: u64,
    pub handled_access_net: u64,
    pub scoped: u64,
}

/// `struct landlock_path_beneath_attr` (packed in the UAPI header).
#[repr(C, packed)]
struct LandlockPathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// `struct landlock_net_port_attr`.
#[repr(C)]
struct LandlockNetPortAttr {
    allowed_access: u64,
    port: u64,
}

const LANDLOCK_CREATE_RULESET_VERSION: c_uint = 1 << 0;
const LANDLOCK_RULE_PATH_BENEATH: c_int = 1;
const LANDLOCK_RULE_NET_PORT: c_int = 2;

/// The Landlock ABI version of the running kernel (`Err` when Landlock is absent or
/// disabled at boot).
pub fn landlock_abi() -> io::Result<u32> {
    // SAFETY: with a NULL attr, size 0 and the VERSION flag the call reads no memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<LandlockRulesetAttr>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    cvt(ret).map(|v| v as u32)
}

/// `landlock_create_ruleset(attr)`: a new ruleset fd (close-on-exec).
pub fn landlock_create_ruleset(attr: &LandlockRulesetAttr) -> io::Result<OwnedFd> {
    // SAFETY: `attr` is a live, initialized struct of exactly the size we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            attr as *const LandlockRulesetAttr,
            std::mem::size_of::<LandlockRulesetAttr>(),
            0u32,
        )
    };
    let fd = cvt(ret)? as RawFd;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds a path-beneath rule: `allowed` rights beneath the O_PATH fd `parent`.
pub fn landlock_add_path_rule(
    ruleset: BorrowedFd<'_>,
    allowed: u64,
    parent: BorrowedFd<'_>,
) -> io::Result<()> {
    let attr = LandlockPathBeneathAttr {
        allowed_access: allowed,
        parent_fd: parent.as_raw_fd(),
    };
    // SAFETY: `attr` lives across the call; both fds are borrowed, hence open.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            LANDLOCK_RULE_PATH_BENEATH,
            &attr as *const LandlockPathBeneathAttr,
            0u32,
        )
    };
    cvt(ret).map(drop)
}

/// Adds a network rule: `allowed` rights on TCP `port`.
pub fn landlock_add_net_rule(ruleset: BorrowedFd<'_>, allowed: u64, port: u16) -> io::Result<()> {
    let attr = LandlockNetPortAttr {
        allowed_access: allowed,
        port: u64::from(port),
    };
    // SAFETY: `attr` lives across the call; the ruleset fd is borrowed, hence open.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            LANDLOCK_RULE_NET_PORT,
            &attr as *const LandlockNetPortAttr,
            0u32,
        )
    };
    cvt(ret).map(drop)
}

/// Enforces `ruleset` on the calling thread. Async-signal-safe.
pub fn landlock_restrict_self(ruleset: RawFd) -> io::Result<()> {
    // SAFETY: integer arguments only; a bad fd is reported as EBADF.
    let ret = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) };
    cvt(ret).map(drop)
}

// ---------------------------------------------------------------------------------------
// seccomp
// ---------------------------------------------------------------------------------------

/// `struct sock_filter`: one classic-BPF instruction.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const SECCOMP_SET_MODE_FILTER: c_uint = 1;
const SECCOMP_GET_ACTION_AVAIL: c_uint = 2;

pub const SECCOMP_FILTER_FLAG_NEW_LISTENER: c_uint = 1 << 3;
pub const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: c_uint = 1 << 5;

/// Installs the BPF `program` on the calling thread with `flags`
/// (`SECCOMP_FILTER_FLAG_*`). Returns the syscall's value (the listener fd with
/// `NEW_LISTENER`, else 0). Async-signal-safe.
pub fn seccomp_set_filter(program: &[SockFilter], flags: c_uint) -> io::Result<c_long> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `program`, which is borrowed for the whole call and whose
    // element type has the exact layout of `struct sock_filter`; the kernel copies it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    cvt(ret)
}

/// Whether the kernel supports seccomp return `action` (`SECCOMP_RET_*`).
pub fn seccomp_action_available(action: u32) -> bool {
    // SAFETY: the kernel reads one u32 from `&action`, which is live across the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_GET_ACTION_AVAIL,
            0u32,
            &action as *const u32,
        )
    };
    ret == 0
}

// ---------------------------------------------------------------------------------------
// Process attributes, used by the child between fork and exec (all async-signal-safe)
// ---------------------------------------------------------------------------------------

/// `prctl(option, arg2, arg3, arg4, arg5)`. Async-signal-safe.
pub fn prctl(option: c_int, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> io::Result<c_int> {
    // SAFETY: every option we pass takes integer arguments only (no pointers).
    let ret = unsafe { libc::prctl(option, arg2, arg3, arg4, arg5) };
    cvt_int(ret)
}

/// `personality(persona)`; returns the previous persona. Async-signal-safe.
pub fn personality(persona: libc::c_ulong) -> io::Result<c_int> {
    // SAFETY: integer argument only.
    let ret = unsafe { libc::personality(persona) };
    cvt_int(ret)
}

/// Clears the effective, permitted and inheritable capability sets of the calling
/// thread (`capset` v3). Async-signal-safe.
pub fn clear_capabilities() -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and the two-element data array (the v3 layout) live across the call.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    cvt(ret).map(drop)
}

/// Sets `resource` to (`soft`, `hard`). Async-signal-safe.
pub fn setrlimit(resource: c_int, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is live across the call; a null old-limit pointer is allowed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_prlimit64,
            0,
            resource,
            &lim as *const libc::rlimit64,
            std::ptr::null_mut::<libc::rlimit64>(),
        )
    };
    cvt(ret).map(drop)
}

/// A saved signal mask.
pub struct SignalMask(libc::sigset_t);

fn sigmask(how: c_int, set: &libc::sigset_t) -> io::Result<SignalMask> {
    // SAFETY: a zeroed sigset_t is a valid (empty) set for the kernel to overwrite.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` and `old` are valid sigset_t values live across the call.
    let ret = unsafe { libc::pthread_sigmask(how, set, &mut old) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    Ok(SignalMask(old))
}

fn full_or_empty_set(full: bool) -> libc::sigset_t {
    // SAFETY: a zeroed sigset_t is valid storage for sigfillset/sigemptyset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is valid, writable storage; these calls cannot fail on it.
    unsafe {
        if full {
            libc::sigfillset(&mut set);
        } else {
            libc::sigemptyset(&mut set);
        }
    }
    set
}

/// Blocks every signal of the calling thread; returns the previous mask.
pub fn block_all_signals() -> io::Result<SignalMask> {
    sigmask(libc::SIG_SETMASK, &full_or_empty_set(true))
}

/// Restores a mask saved by [`block_all_signals`].
pub fn restore_signal_mask(mask: &SignalMask) -> io::Result<()> {
    sigmask(libc::SIG_SETMASK, &mask.0).map(drop)
}

/// Resets every catchable signal to `SIG_DFL` and unblocks all signals. Ignored
/// dispositions and the mask survive `execve`; the command must start clean.
/// Uses the raw `rt_sigaction`, because libc wrappers refuse the signals they reserve
/// (32 and 33 on glibc), which may still arrive ignored from our own parent.
/// Async-signal-safe.
pub fn reset_signals() -> io::Result<()> {
    // An all-zero kernel `struct sigaction` is SIG_DFL, no flags, empty mask on every
    // architecture's layout; 64 bytes is larger than any of them.
    let default = [0u64; 8];
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `default` is a live, zeroed buffer larger than the kernel's struct
        // sigaction; a null old-action pointer is allowed; sigsetsize is the kernel's 8.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                default.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            )
        };
        cvt(ret)?;
    }
    sigmask(libc::SIG_SETMASK, &full_or_empty_set(false)).map(drop)
}

/// Marks every fd from `first` up close-on-exec. Async-signal-safe.
pub fn cloexec_from(first: c_uint) -> io::Result<()> {
    // SAFETY: integer arguments only.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    cvt(ret).map(drop)
}

/// `execve(path, argv, envp)`; only returns on failure. Async-signal-safe.
///
/// `argv` and `envp` must be NULL-terminated arrays of pointers to NUL-terminated
/// strings that outlive the call; `spawn::ChildPlan` builds them that way.
pub fn execve(path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> io::Error {
    if argv.last().is_some_and(|p| !p.is_null()) || envp.last().is_some_and(|p| !p.is_null()) {
        return io::Error::from_raw_os_error(libc::EFAULT);
    }
    // SAFETY: both arrays are NULL-terminated (checked above) and, per this fn's
    // contract, point at live NUL-terminated strings.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    io::Error::last_os_error()
}

/// Writes all of `buf` to `fd`, ignoring EINTR. Async-signal-safe.
pub fn write_all_raw(fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: `buf` is a live slice of `buf.len()` readable bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// Sends `payload` and one fd (SCM_RIGHTS) over a unix socket. Async-signal-safe (the
/// control buffer is on the stack).
pub fn send_with_fd(sock: BorrowedFd<'_>, payload: &[u8], fd: BorrowedFd<'_>) -> io::Result<()> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
    }
    let iov = [io::IoSlice::new(payload)];
    loop {
        match rustix::net::sendmsg(sock, &iov, &mut control, SendFlags::empty()) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receives one message into `buf` with at most one fd attached (close-on-exec).
/// Returns the payload length (0: the peer closed) and the fd, if any.
pub fn recv_with_fd(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg = loop {
        match rustix::net::recvmsg(sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(msg) => break msg,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let mut received = None;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            for fd in fds {
                received.get_or_insert(fd);
            }
        }
    }
    Ok((msg.bytes, received))
}

/// Reads into `buf`, retrying on EINTR. Async-signal-safe.
pub fn read_raw(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Ok(n) => return Ok(n),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// A close-on-exec duplicate (numbered 3 or above) of descriptor `fd`; EBADF when it is
/// not open.
pub fn dup_raw(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor number; a closed one is EBADF.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fcntl returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Owns `fd`, inherited for this process to use (told in its environment); EBADF if shut.
pub fn take_fd(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 3 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: F_GETFD only reads the descriptor's flags; a closed one is EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open (checked above), inherited for this process alone: nothing owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Makes `fd` this process's stdin, stdout and stderr.
pub fn dup_onto_stdio(fd: BorrowedFd<'_>) -> io::Result<()> {
    for n in 0..3 {
        // SAFETY: dup2 onto 0-2 replaces them (std uses them by number); `fd` is open.
        if unsafe { libc::dup2(fd.as_raw_fd(), n) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `_exit(code)`: leaves without running atexit handlers or flushing stdio.
pub fn exit_immediately(code: c_int) -> ! {
    // SAFETY: _exit is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

/// The epoll fd of a mio `Poll`, borrowed for as long as the `Poll` lives (mio exposes
/// only the raw fd).
pub fn poll_fd(poll: &mio::Poll) -> BorrowedFd<'_> {
    // SAFETY: `Poll` owns this fd and keeps it open until it is dropped; the borrow
    // cannot outlive `poll`.
    unsafe { BorrowedFd::borrow_raw(std::os::fd::AsRawFd::as_raw_fd(poll)) }
}

/// `pidfd_getfd(pidfd, targetfd)`: a duplicate (close-on-exec) of another process's fd,
/// sharing its open file description.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, targetfd: i32) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments only (flags must be 0).
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), targetfd, 0u32) };
    let fd = cvt(ret)? as RawFd;
    // SAFETY: the kernel just installed this fd for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The raw `sched_getaffinity(tid, buf.len(), buf)`: fills `buf` with the CPU mask of
/// thread `tid` and returns how many bytes the kernel wrote (its mask size, at most
/// `buf.len()`); EINVAL when `buf` is too small or not a multiple of a long.
pub fn sched_getaffinity_raw(tid: i32, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which is live and
    // writable for that length.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_sched_getaffinity,
            tid,
            buf.len(),
            buf.as_mut_ptr(),
        )
    };
    Ok(cvt(ret)? as usize)
}

/// Copies `buf.len()` bytes at `remote` in process (or thread) `pid` into `buf`;
/// returns how many were read.
fn vm_read(pid: i32, remote: u64, buf: &mut [u8]) -> io::Result<usize> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: remote as usize as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, which is live and writable for its length; the
    // remote iovec only names an address in the other process, which the kernel checks.
    let ret = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as usize)
}

/// Reads a `struct msghdr` (this target's layout) at `remote` in process `pid`.
pub fn read_remote_msghdr(pid: i32, remote: u64) -> io::Result<libc::msghdr> {
    let mut buf = [0u8; std::mem::size_of::<libc::msghdr>()];
    if process_vm_read(pid, remote, &mut buf)? != buf.len() {
        return Err(io::Error::from_raw_os_error(libc::EFAULT));
    }
    // SAFETY: `buf` holds exactly size_of::<msghdr>() bytes and msghdr is plain data
    // (integers and pointers we only ever pass back to the kernel as numbers), so any
    // bit pattern is a valid value; read_unaligned copes with the byte buffer.
    Ok(unsafe { std::ptr::read_unaligned(buf.as_ptr().cast::<libc::msghdr>()) })
}

/// Reads `count` `struct iovec`s at `remote` in process `pid`, as (address, length).
pub fn read_remote_iovecs(pid: i32, remote: u64, count: usize) -> io::Result<Vec<(u64, usize)>> {
    const IOV: usize = std::mem::size_of::<libc::iovec>();
    let mut buf = vec![0u8; count.saturating_mul(IOV)];
    if process_vm_read(pid, remote, &mut buf)? != buf.len() {
        return Err(io::Error::from_raw_os_error(libc::EFAULT));
    }
    Ok(buf
        .chunks_exact(IOV)
        .map(|c| {
            // SAFETY: each chunk holds exactly one iovec's bytes; iovec is plain data.
            let iov = unsafe { std::ptr::read_unaligned(c.as_ptr().cast::<libc::iovec>()) };
            (iov.iov_base as usize as u64, iov.iov_len)
        })
        .collect())
}

/// Writes `data` at `remote` in process `pid`; returns how many bytes were written.
fn vm_write(pid: i32, remote: u64, data: &[u8]) -> io::Result<usize> {
    let local = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    let remote = libc::iovec {
        iov_base: remote as usize as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: `local` describes `data`, live for the call (the kernel only reads it);
    // the remote iovec names an address in the other process, checked by the kernel.
    let ret = unsafe { libc::process_vm_writev(pid, &local, 1, &remote, 1, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as usize)
}

/// Whether `process_vm_readv` works here (a container's seccomp profile may refuse it):
/// reads a byte of this process.
pub fn vm_calls_available() -> bool {
    static BYTE: [u8; 1] = [7];
    let mut got = [0u8; 1];
    vm_read(std::process::id() as i32, BYTE.as_ptr() as u64, &mut got).is_ok_and(|n| n == 1)
}

/// Whether `pidfd_getfd` works here (a container's seccomp profile may refuse it): takes
/// a duplicate of one of this process's own descriptors.
pub fn pidfd_getfd_available() -> bool {
    let Some(me) = rustix::process::Pid::from_raw(std::process::id() as i32) else {
        return false;
    };
    rustix::process::pidfd_open(me, rustix::process::PidfdFlags::empty())
        .is_ok_and(|pidfd| pidfd_getfd(std::os::fd::AsFd::as_fd(&pidfd), pidfd.as_raw_fd()).is_ok())
}

/// Set once `process_vm_readv`/`writev` were refused where `/proc/PID/mem` works (a
/// container's seccomp profile without CAP_SYS_PTRACE): later calls go there directly.
static VM_REFUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Reads `buf.len()` bytes at `remote` in process (or thread) `pid`: `process_vm_readv`,
/// or `/proc/PID/mem` where that call is refused (EPERM, ENOSYS). The caller checks the
/// notification is still valid afterwards, whichever way was taken.
pub fn process_vm_read(pid: i32, remote: u64, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mem =
        |buf: &mut [u8]| std::fs::File::open(format!("/proc/{pid}/mem"))?.read_at(buf, remote);
    if VM_REFUSED.load(std::sync::atomic::Ordering::Relaxed) {
        return mem(buf);
    }
    match vm_read(pid, remote, buf) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSYS)) => {
            let read = mem(buf).map_err(|_| e)?;
            VM_REFUSED.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok(read)
        }
        other => other,
    }
}

/// Writes `data` at `remote` in process (or thread) `pid`, as [`process_vm_read`] reads.
/// Through `/proc/PID/mem` a write also lands in a read-only page of the caller (the
/// kernel forces it, copy-on-write), where `process_vm_writev` would fail with EFAULT.
pub fn process_vm_write(pid: i32, remote: u64, data: &[u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mem = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/{pid}/mem"))?
            .write_at(data, remote)
    };
    if VM_REFUSED.load(std::sync::atomic::Ordering::Relaxed) {
        return mem();
    }
    match vm_write(pid, remote, data) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSYS)) => {
            let written = mem().map_err(|_| e)?;
            VM_REFUSED.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok(written)
        }
        other => other,
    }
}

/// `sendmsg` on `sock` with an optional raw destination sockaddr, one data buffer and
/// raw ancillary data; returns the bytes sent.
pub fn sendmsg_raw(
    sock: BorrowedFd<'_>,
    name: Option<&[u8]>,
    data: &[u8],
    control: &[u8],
    flags: c_int,
) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is valid (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(name) = name {
        msg.msg_name = name.as_ptr() as *mut libc::c_void;
        msg.msg_namelen = name.len() as libc::socklen_t;
    }
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !control.is_empty() {
        msg.msg_control = control.as_ptr() as *mut libc::c_void;
        msg.msg_controllen = control.len() as _;
    }
    loop {
        // SAFETY: every pointer in `msg` refers to `name`, `iov`/`data` or `control`,
        // all live across the call; the kernel only reads them.
        let ret = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, flags) };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `PTRACE_SEIZE` of thread `tid` with `options` (`PTRACE_O_*`): the calling thread
/// becomes its tracer, without stopping it. Tracees are detached by the kernel when
/// the tracing thread exits.
pub fn ptrace_seize(tid: i32, options: u32) -> io::Result<()> {
    // SAFETY: SEIZE takes no pointers (addr is unused, data is the options integer).
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            options as usize as *mut libc::c_void,
        )
    };
    cvt(ret).map(drop)
}

/// `PTRACE_INTERRUPT`: a seized thread stops at its next return to user space (or
/// now, if it is in user space or an interruptible sleep).
pub fn ptrace_interrupt(tid: i32) -> io::Result<()> {
    // SAFETY: INTERRUPT takes no pointers.
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_INTERRUPT,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    cvt(ret).map(drop)
}

/// What `waitid` reported for one thread: `si_code` (`CLD_*`) and `si_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waited {
    pub code: i32,
    pub status: i32,
}

/// `waitid(P_PID, tid, flags | __WALL)`; `Ok(None)` when nothing is reported (WNOHANG).
pub fn waitid_thread(tid: i32, flags: c_int) -> io::Result<Option<Waited>> {
    // SAFETY: all-zero is a valid siginfo_t; waitid fills it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a live, writable siginfo_t.
    let ret = unsafe {
        libc::waitid(
            libc::P_PID,
            tid as libc::id_t,
            &mut info,
            flags | libc::__WALL,
        )
    };
    cvt_int(ret)?;
    // SAFETY: waitid filled `info` for a child state change (si_pid 0: none reported).
    let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
    if pid == 0 {
        return Ok(None);
    }
    Ok(Some(Waited {
        code: info.si_code,
        status,
    }))
}

/// Whether tasks `a` and `b` share one address space (`kcmp(KCMP_VM)`).
pub fn same_vm(a: i32, b: i32) -> io::Result<bool> {
    kcmp_same(a, b, 1)
}

/// Whether tasks `a` and `b` share one descriptor table (`kcmp(KCMP_FILES)`).
pub fn same_files(a: i32, b: i32) -> io::Result<bool> {
    kcmp_same(a, b, 2)
}

fn kcmp_same(a: i32, b: i32, kind: c_int) -> io::Result<bool> {
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::syscall(libc::SYS_kcmp, a, b, kind, 0usize, 0usize) };
    Ok(cvt(ret)? == 0)
}

/// `PTRACE_GETEVENTMSG` of a tracee in an event stop (the new pid of a fork event).
// c_ulong is u64 here but u32 on armv7.
#[allow(clippy::useless_conversion)]
pub fn ptrace_event_msg(tid: i32) -> io::Result<u64> {
    let mut msg: libc::c_ulong = 0;
    // SAFETY: GETEVENTMSG writes one unsigned long through `data`, which points at `msg`.
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_GETEVENTMSG,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            &mut msg as *mut libc::c_ulong,
        )
    };
    cvt(ret)?;
    Ok(u64::from(msg))
}

/// `PTRACE_DETACH` of a tracee in a ptrace stop, resuming it (no signal injected).
pub fn ptrace_detach(tid: i32) -> io::Result<()> {
    // SAFETY: DETACH takes no pointers (data 0: no signal).
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_DETACH,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    cvt(ret).map(drop)
}

/// `unshare(CLONE_NEWNS)`, with `CLONE_NEWUSER` when `user`: a mount namespace (and user
/// namespace) of the calling process's own. Async-signal-safe.
pub fn unshare_namespaces(user: bool) -> io::Result<()> {
    let mut flags = rustix::thread::UnshareFlags::NEWNS;
    if user {
        flags |= rustix::thread::UnshareFlags::NEWUSER;
    }
    // SAFETY: neither flag unshares the descriptor table (the hazard of FILES), and the
    // caller is the single-threaded child between fork and exec.
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(io::Error::from)
}
