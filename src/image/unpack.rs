//! Applies a layer (a tar stream) to a root directory being built: every path resolved
//! inside the root (`openat2(RESOLVE_IN_ROOT)`), so no entry (`..`, an absolute name, a
//! link planted by an earlier entry) writes outside it; OCI whiteouts (`.wh.NAME`
//! deletes NAME, `.wh..wh..opq` empties the directory of what earlier layers put there)
//! applied. Device files are skipped (the run's `/dev` is sandlet's own); owners are
//! kept only when sandlet is root.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};

use super::tar::{Kind, TarReader};

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// An entry's path made relative and clean; `None` for the root itself. `..` anywhere
/// is refused.
fn clean(raw: &[u8]) -> io::Result<Option<PathBuf>> {
    let mut out = PathBuf::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(bad(format!(
                    "layer entry '{}' leaves the root",
                    String::from_utf8_lossy(raw)
                )))
            }
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// The root being built.
pub struct Tree {
    root: OwnedFd,
    /// Keep owners (sandlet is root).
    owners: bool,
}

fn at(root: &OwnedFd, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let rel = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    Ok(rustix::fs::openat2(
        root,
        rel,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?)
}

impl Tree {
    pub fn open(dir: &Path) -> io::Result<Tree> {
        let root = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Tree {
            root,
            owners: rustix::process::geteuid().is_root(),
        })
    }

    /// The parent directory of `path` (made as needed) and the last name.
    fn parent<'p>(&self, path: &'p Path) -> io::Result<(OwnedFd, &'p OsStr)> {
        let name = path.file_name().ok_or_else(|| bad("empty name".into()))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        let mut made = PathBuf::new();
        for c in dir.components() {
            made.push(c);
            let parent = at(
                &self.root,
                made.parent().unwrap_or(Path::new("")),
                OFlags::PATH,
            )?;
            match rustix::fs::mkdirat(
                &parent,
                made.file_name().unwrap_or_default(),
                Mode::from(0o755),
            ) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok((
            at(&self.root, dir, OFlags::DIRECTORY | OFlags::RDONLY)?,
            name,
        ))
    }

    /// Removes `name` in `dir`, whatever it is (a directory with its contents).
    fn remove(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
        match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => return Ok(()),
            Err(rustix::io::Errno::ISDIR) | Err(rustix::io::Errno::PERM) => {}
            Err(e) => return Err(e.into()),
        }
        let sub = rustix::fs::openat(
            dir,
            name,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Tree::empty(&sub, &HashSet::new(), Path::new(""))?;
        rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
        Ok(())
    }

    /// Removes every entry of `dir` (at `path`) not in `keep`.
    fn empty(dir: &OwnedFd, keep: &HashSet<PathBuf>, path: &Path) -> io::Result<()> {
        let mut names = Vec::new();
        for e in rustix::fs::Dir::read_from(dir)? {
            let e = e?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(OsStr::from_bytes(n).to_owned());
            }
        }
        for n in names {
            if !keep.contains(&path.join(&n)) {
                Tree::remove(dir, &n)?;
            }
        }
        Ok(())
    }

    /// Applies the layer read from `layer`.
    pub fn apply(&self, layer: impl Read) -> io::Result<()> {
        let mut tar = TarReader::new(layer);
        // What this layer made: an opaque directory keeps these, drops the rest.
        let mut made: HashSet<PathBuf> = HashSet::new();
        // Directories and their modes, set when the layer ends.
        let mut modes: Vec<(PathBuf, Mode)> = Vec::new();
        while let Some(entry) = tar.next_entry()? {
            let Some(path) = clean(&entry.path)? else {
                continue;
            };
            let name = path.file_name().unwrap_or_default().as_bytes();
            if name == OPAQUE.as_bytes() {
                let dir_path = path.parent().unwrap_or(Path::new(""));
                let dir = at(&self.root, dir_path, OFlags::DIRECTORY | OFlags::RDONLY)?;
                Tree::empty(&dir, &made, dir_path)?;
                continue;
            }
            if let Some(hidden) = name.strip_prefix(WHITEOUT.as_bytes()) {
                let (dir, _) = self.parent(&path)?;
                Tree::remove(&dir, OsStr::from_bytes(hidden))?;
                continue;
            }
            let (dir, name) = self.parent(&path)?;
            let mode = Mode::from(entry.mode & 0o7777);
            let owner = self.owners.then(|| {
                (
                    Some(rustix::fs::Uid::from_raw(entry.uid as u32)),
                    Some(rustix::fs::Gid::from_raw(entry.gid as u32)),
                )
            });
            match entry.kind {
                Kind::Dir => {
                    // Owner rights until the layer ends, so that entries can go in it.
                    let open = mode | Mode::RWXU;
                    match rustix::fs::mkdirat(&dir, name, open) {
                        Ok(()) => {}
                        Err(rustix::io::Errno::EXIST) => {
                            let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
                            if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                                Tree::remove(&dir, name)?;
                                rustix::fs::mkdirat(&dir, name, open)?;
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                    let fd = rustix::fs::openat(
                        &dir,
                        name,
                        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )?;
                    if let Some((uid, gid)) = owner {
                        rustix::fs::fchown(&fd, uid, gid)?;
                    }
                    rustix::fs::fchmod(&fd, open)?;
                    modes.push((path.clone(), mode));
                }
                Kind::File | Kind::Other(_) => {
                    Tree::remove(&dir, name)?;
                    let fd = rustix::fs::openat(
                        &dir,
                        name,
                        OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::WRONLY
                            | OFlags::NOFOLLOW
                            | OFlags::CLOEXEC,
                        Mode::RUSR | Mode::WUSR,
                    )?;
                    let mut file = std::fs::File::from(fd);
                    tar.read_data(&mut file)?;
                    if let Some((uid, gid)) = owner {
                        rustix::fs::fchown(file.as_fd(), uid, gid)?;
                    }
                    rustix::fs::fchmod(file.as_fd(), mode)?;
                }
                Kind::Symlink => {
                    Tree::remove(&dir, name)?;
                    rustix::fs::symlinkat(OsStr::from_bytes(&entry.link), &dir, name)?;
                    if let Some((uid, gid)) = owner {
                        rustix::fs::chownat(&dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
                    }
                }
                Kind::Hardlink => {
                    let Some(target) = clean(&entry.link)? else {
                        return Err(bad("a hard link to the root".into()));
                    };
                    let (tdir, tname) = self.parent(&target)?;
                    Tree::remove(&dir, name)?;
                    rustix::fs::linkat(&tdir, tname, &dir, name, AtFlags::empty())?;
                }
                Kind::Fifo => {
                    Tree::remove(&dir, name)?;
                    rustix::fs::mknodat(&dir, name, rustix::fs::FileType::Fifo, mode, 0)?;
                    if let Some((uid, gid)) = owner {
                        rustix::fs::chownat(&dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
                    }
                }
                Kind::CharDev | Kind::BlockDev => continue,
            }
            made.insert(path);
        }
        for (path, mode) in modes.iter().rev() {
            let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW;
            match at(&self.root, path, flags) {
                Ok(fd) => rustix::fs::fchmod(&fd, *mode)?,
                // Removed by a later entry of the layer.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_cannot_leave_the_root() {
        assert!(clean(b"../etc/passwd").is_err());
        assert!(clean(b"a/../../b").is_err());
        assert_eq!(
            clean(b"/etc/./passwd").unwrap(),
            Some(PathBuf::from("etc/passwd"))
        );
        assert_eq!(clean(b"./").unwrap(), None);
    }
}
