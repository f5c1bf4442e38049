//! seccomp user notification: the listener fd, decoded notifications, responses.
//!
//! `RECV` blocks until a notification is pending (the fd's O_NONBLOCK is not honoured),
//! so it is only called when the fd polls readable. `SEND` is safe from any thread.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6).
const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;

/// One trapped syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notif {
    pub id: u64,
    /// Thread id of the caller (in sandlet's pid namespace).
    pub pid: u32,
    pub nr: i32,
    pub arch: u32,
    pub args: [u64; 6],
}

impl Notif {
    fn decode(raw: &libc::seccomp_notif) -> Notif {
        Notif {
            id: raw.id,
            pid: raw.pid,
            nr: raw.data.nr,
            arch: raw.data.arch,
            args: raw.data.args,
        }
    }
}

/// The answer to a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// Let the kernel run the syscall as the caller asked (integer arguments only).
    Continue,
    /// Fail it with this errno.
    Errno(i32),
    /// Return this value without running it.
    Value(i64),
}

impl Response {
    /// The kernel's `struct seccomp_notif_resp` for notification `id`.
    pub fn encode(self, id: u64) -> libc::seccomp_notif_resp {
        let (val, error, flags) = match self {
            Response::Continue => (0, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
            Response::Errno(e) => (0, -e.abs(), 0),
            Response::Value(v) => (v, 0, 0),
        };
        libc::seccomp_notif_resp {
            id,
            val,
            error,
            flags,
        }
    }
}

/// The listener fd handed over by the child.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Listener {
    pub fn new(fd: OwnedFd) -> Listener {
        Listener { fd }
    }

    /// Asks the kernel to wake the target on the CPU that answers (Linux 6.6+); the
    /// flag is passed by value.
    pub fn set_sync_wake_up(&self) -> io::Result<()> {
        // SAFETY: SET_FLAGS takes its argument by value (an integer), not a pointer.
        let ret = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS as _,
                SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
            )
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Receives one notification. Blocks if none is pending: call only when the fd is
    /// readable. `Ok(None)`: the target went away before we could read it (ENOENT).
    pub fn recv(&self) -> io::Result<Option<Notif>> {
        loop {
            // SAFETY: RECV requires a zeroed struct; all-zero is valid for this C struct.
            let mut raw: libc::seccomp_notif = unsafe { std::mem::zeroed() };
            // SAFETY: `raw` is a live, writable seccomp_notif of the size the ioctl expects.
            let ret = unsafe {
                libc::ioctl(
                    self.fd.as_raw_fd(),
                    libc::SECCOMP_IOCTL_NOTIF_RECV as _,
                    &mut raw as *mut libc::seccomp_notif,
                )
            };
            if ret == 0 {
                return Ok(Some(Notif::decode(&raw)));
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ENOENT) => return Ok(None),
                _ => return Err(err),
            }
        }
    }

    /// Sends `response` for notification `id`. A target that died meanwhile (ENOENT) is
    /// not an error.
    pub fn send(&self, id: u64, response: Response) -> io::Result<()> {
        let resp = response.encode(id);
        // SAFETY: SEND reads one live, initialized seccomp_notif_resp through the pointer.
        self.answer(|fd| unsafe {
            libc::ioctl(
                fd,
                libc::SECCOMP_IOCTL_NOTIF_SEND as _,
                &resp as *const libc::seccomp_notif_resp,
            )
        })
    }

    /// Answers notification `id` with a new descriptor in its target: a duplicate of
    /// `fd` (same open file description) is installed in the target's fd table and its
    /// number becomes the syscall's return value, in one step (`SECCOMP_IOCTL_NOTIF_ADDFD`
    /// with `SECCOMP_ADDFD_FLAG_SEND`, Linux 5.14). On error nothing was answered (the
    /// caller must still respond); a target that died meanwhile (ENOENT) is not an error.
    pub fn send_fd(&self, id: u64, fd: BorrowedFd<'_>, cloexec: bool) -> io::Result<()> {
        self.add_fd(id, libc::SECCOMP_ADDFD_FLAG_SEND as u32, fd, 0, cloexec)
    }

    /// Installs a duplicate of `fd` as descriptor `number` of notification `id`'s
    /// target, replacing what was there (`SECCOMP_ADDFD_FLAG_SETFD`, Linux 5.9), without
    /// answering. A target that died meanwhile (ENOENT) is not an error.
    pub fn place_fd(
        &self,
        id: u64,
        fd: BorrowedFd<'_>,
        number: i32,
        cloexec: bool,
    ) -> io::Result<()> {
        let flags = libc::SECCOMP_ADDFD_FLAG_SETFD as u32;
        self.add_fd(id, flags, fd, number as u32, cloexec)
    }

    /// `SECCOMP_IOCTL_NOTIF_ADDFD` of `fd` into notification `id`'s target.
    fn add_fd(
        &self,
        id: u64,
        flags: u32,
        fd: BorrowedFd<'_>,
        newfd: u32,
        cloexec: bool,
    ) -> io::Result<()> {
        let addfd = libc::seccomp_notif_addfd {
            id,
            flags,
            srcfd: fd.as_raw_fd() as u32,
            newfd,
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        // SAFETY: ADDFD reads one live, initialized seccomp_notif_addfd through the
        // pointer; `srcfd` is a descriptor we hold open for the duration of the call.
        self.answer(|listener| unsafe {
            libc::ioctl(
                listener,
                libc::SECCOMP_IOCTL_NOTIF_ADDFD as _,
                &addfd as *const libc::seccomp_notif_addfd,
            )
        })
    }

    /// Runs an answering ioctl on the listener until it is not interrupted; a target
    /// that died meanwhile (ENOENT) is not an error.
    fn answer(&self, ioctl: impl Fn(std::os::fd::RawFd) -> libc::c_int) -> io::Result<()> {
        loop {
            if ioctl(self.fd.as_raw_fd()) >= 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ENOENT) => return Ok(()),
                _ => return Err(err),
            }
        }
    }

    /// Whether notification `id` is still pending (its target has not died or been
    /// interrupted). Check it after reading the target's memory or /proc files.
    pub fn id_valid(&self, id: u64) -> bool {
        // SAFETY: ID_VALID reads one u64 through the pointer, which is live.
        let ret = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _,
                &id as *const u64,
            )
        };
        ret == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_encode() {
        let c = Response::Continue.encode(7);
        assert_eq!((c.id, c.val, c.error, c.flags), (7, 0, 0, 1));
        let e = Response::Errno(libc::EAGAIN).encode(8);
        assert_eq!((e.id, e.val, e.error, e.flags), (8, 0, -libc::EAGAIN, 0));
        let v = Response::Value(0x1000).encode(9);
        assert_eq!((v.id, v.val, v.error, v.flags), (9, 0x1000, 0, 0));
    }

    #[test]
    fn decodes_the_kernel_struct() {
        // SAFETY: all-zero is a valid seccomp_notif.
        let mut raw: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        raw.id = 42;
        raw.pid = 1234;
        raw.data.nr = 57;
        raw.data.arch = 0xC000_003E;
        raw.data.args = [1, 2, 3, 4, 5, 6];
        let n = Notif::decode(&raw);
        assert_eq!(
            n,
            Notif {
                id: 42,
                pid: 1234,
                nr: 57,
                arch: 0xC000_003E,
                args: [1, 2, 3, 4, 5, 6]
            }
        );
    }
}
