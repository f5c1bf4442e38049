//! What handlers read from the caller and hand back to it: NUL-terminated paths in its
//! memory, and sealed memfds holding content served instead of a file.

use std::os::fd::OwnedFd;

use crate::seccomp::notif::Notif;
use crate::sys;

/// Longest path we read (`PATH_MAX`); a longer one is not one of ours.
const PATH_MAX: usize = 4096;

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

#[cfg(test)]
mod tests {
    use super::*;

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
