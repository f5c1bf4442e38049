//! `getdents64` answered by the supervisor: with `--deterministic-dirs` a directory's
//! entries come sorted by name, so listings have the same order on every run and file
//! system; with the /proc view, a listing of /proc leaves out every process outside the
//! sandbox (then every listing is answered here, in the file system's order unless
//! sorted, so a descriptor swapped in by another thread cannot slip past).
//!
//! The supervisor takes a duplicate of the caller's descriptor (`pidfd_getfd`), lists
//! the directory through a fresh open of it (`openat(dup, ".")`), sorts the names and
//! writes as many whole records as fit into the caller's buffer. The position lives
//! where the kernel keeps it, in the caller's open file description: after each answer
//! its offset is set to the index of the next entry (each record's `d_off` is the index
//! after it), so `rewinddir`, `telldir`/`seekdir` and descriptors shared across `fork`
//! keep working. A listing is cached per (thread, fd) and re-read when the offset is 0
//! or the descriptor names another directory.

use std::os::fd::OwnedFd;

use rustix::fs::{FileType, SeekFrom};

use super::{caller_fd, Ctx, Decision, Handler};
use crate::seccomp::notif::{Notif, Response};
use crate::state::{lock, Entry, Listing};
use crate::sys;

pub const GETDENTS64: Handler = getdents64;

/// Fixed part of a `struct linux_dirent64` (ino, off, reclen, type).
const HEADER: usize = 19;

/// Most listings kept at once (each may hold a whole large directory).
const MAX_LISTINGS: usize = 16;

/// /proc's root directory inode.
const PROC_ROOT_INO: u64 = 1;

fn errno(e: i32) -> Decision {
    Decision::Respond(Response::Errno(e))
}

fn d_type(t: FileType) -> u8 {
    match t {
        FileType::Fifo => libc::DT_FIFO,
        FileType::CharacterDevice => libc::DT_CHR,
        FileType::Directory => libc::DT_DIR,
        FileType::BlockDevice => libc::DT_BLK,
        FileType::RegularFile => libc::DT_REG,
        FileType::Symlink => libc::DT_LNK,
        FileType::Socket => libc::DT_SOCK,
        _ => libc::DT_UNKNOWN,
    }
}

/// Every entry of the directory `dir` is open on, sorted by name when `sorted`.
fn read_entries(dir: &OwnedFd, sorted: bool) -> rustix::io::Result<Vec<Entry>> {
    let mut d = rustix::fs::Dir::read_from(dir)?;
    let mut entries = Vec::new();
    while let Some(e) = d.read() {
        let e = e?;
        entries.push(Entry {
            ino: e.ino(),
            kind: d_type(e.file_type()),
            name: e.file_name().to_bytes().to_vec(),
        });
    }
    if sorted {
        entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(entries)
}

/// Appends the `linux_dirent64` record of `e` (with `d_off` = `next`) to `out` if the
/// result stays within `room` bytes.
fn encode(e: &Entry, next: u64, room: usize, out: &mut Vec<u8>) -> bool {
    let len = (HEADER + e.name.len() + 1).next_multiple_of(8);
    if out.len() + len > room {
        return false;
    }
    out.extend_from_slice(&e.ino.to_ne_bytes());
    out.extend_from_slice(&next.to_ne_bytes());
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.push(e.kind);
    out.extend_from_slice(&e.name);
    out.resize(out.len() + len - HEADER - e.name.len(), 0);
    true
}

/// Records for entries from `start` on that fit in `room` bytes; the index after them.
fn batch(entries: &[Entry], start: usize, room: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut i = start;
    while i < entries.len() && encode(&entries[i], i as u64 + 1, room, &mut out) {
        i += 1;
    }
    (out, i)
}

/// `getdents64(fd, buf, count)`.
fn getdents64(ctx: &Ctx, n: &Notif) -> Decision {
    let Some(state) = &ctx.dirs else {
        return Decision::Respond(Response::Continue);
    };
    let dup = match caller_fd(n, n.args[0]) {
        Ok(fd) => fd,
        Err(d) => return d,
    };
    let stat = match rustix::fs::fstat(&dup) {
        Ok(s) => s,
        Err(e) => return errno(e.raw_os_error()),
    };
    if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
        return errno(libc::ENOTDIR);
    }
    let pos = match rustix::fs::seek(&dup, SeekFrom::Current(0)) {
        Ok(p) => usize::try_from(p).unwrap_or(usize::MAX),
        Err(e) => return errno(e.raw_os_error()),
    };
    let room = usize::try_from(n.args[2] & 0xffff_ffff).unwrap_or(usize::MAX);
    let key = (n.pid, n.args[0]);
    let dir = (stat.st_dev, stat.st_ino);
    let (records, next) = {
        let mut s = lock(state);
        let cached = s.listings.get(&key).is_some_and(|l| l.dir == dir);
        if pos == 0 || !cached {
            let mut entries = match read_entries(&dup, s.sorted) {
                Ok(entries) => entries,
                Err(e) => return errno(e.raw_os_error()),
            };
            if ctx.proc.as_ref().is_some_and(|v| v.dev == dir.0) && dir.1 == PROC_ROOT_INO {
                // /proc itself: processes outside the sandbox are not listed.
                let members = super::procview::members(ctx);
                entries.retain(
                    |e| match std::str::from_utf8(&e.name).map(str::parse::<i32>) {
                        Ok(Ok(pid)) => members.contains(&pid),
                        _ => true,
                    },
                );
            }
            // Listings abandoned before their end (the descriptor closed, never read to
            // the empty batch) are dropped oldest first past a bound; one dropped while
            // still in use is simply listed again at its next call.
            while s.listings.len() >= MAX_LISTINGS {
                let Some(oldest) = s.order.pop_front() else {
                    break;
                };
                s.listings.remove(&oldest);
            }
            s.order.retain(|k| *k != key);
            s.order.push_back(key);
            s.listings.insert(key, Listing { dir, entries });
        }
        let Some(listing) = s.listings.get(&key) else {
            return errno(libc::EIO);
        };
        let (records, next) = batch(&listing.entries, pos, room);
        if records.is_empty() && next < listing.entries.len() {
            return errno(libc::EINVAL);
        }
        if next >= listing.entries.len() && records.is_empty() {
            s.listings.remove(&key);
            s.order.retain(|k| *k != key);
        }
        (records, next)
    };
    if !ctx.listener.id_valid(n.id) {
        return errno(libc::EINTR);
    }
    if !records.is_empty() {
        match sys::process_vm_write(n.pid as i32, n.args[1], &records) {
            Ok(w) if w == records.len() => {}
            _ => return errno(libc::EFAULT),
        }
        if let Err(e) = rustix::fs::seek(&dup, SeekFrom::Start(next as u64)) {
            return errno(e.raw_os_error());
        }
    }
    Decision::Respond(Response::Value(records.len() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> Entry {
        Entry {
            ino: 7,
            kind: libc::DT_REG,
            name: name.as_bytes().to_vec(),
        }
    }

    #[test]
    fn records_are_aligned_and_fit_the_buffer() {
        let entries = vec![entry("a"), entry("bbbbbbbbbbbb"), entry("c")];
        let (all, next) = batch(&entries, 0, 4096);
        assert_eq!(next, 3);
        assert_eq!(all.len(), 24 + 32 + 24);
        // The second record: d_off 2, reclen 32, type, name, NUL.
        assert_eq!(
            u64::from_ne_bytes(all[24 + 8..24 + 16].try_into().unwrap()),
            2
        );
        assert_eq!(
            u16::from_ne_bytes(all[24 + 16..24 + 18].try_into().unwrap()),
            32
        );
        assert_eq!(all[24 + 18], libc::DT_REG);
        assert_eq!(&all[24 + 19..24 + 31], b"bbbbbbbbbbbb");
        assert_eq!(all[24 + 31], 0);
        let (some, next) = batch(&entries, 0, 60);
        assert_eq!((some.len(), next), (56, 2));
        let (rest, next) = batch(&entries, 2, 60);
        assert_eq!((rest.len(), next), (24, 3));
        assert_eq!(batch(&entries, 3, 60), (Vec::new(), 3));
        assert_eq!(batch(&entries, 0, 10), (Vec::new(), 0));
    }

    #[test]
    fn lists_sorted() {
        let dir = std::env::temp_dir().join(format!("sandlet-dirs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["zeta", "alpha", "Mid", "beta"] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let fd: OwnedFd = std::fs::File::open(&dir).unwrap().into();
        let names: Vec<String> = read_entries(&fd, true)
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8(e.name).unwrap())
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(names, [".", "..", "Mid", "alpha", "beta", "zeta"]);
    }
}
