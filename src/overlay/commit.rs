//! The change list and the commit of a view's upper layer onto the workdir: pure file
//! system work on two directory trees (see [`super`] for the layer and the run).

use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What a change did to a path of the workdir.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Added,
    Modified,
    Deleted,
}

/// One line of the change list: `A  path`, `M  path`, `D  path`, relative to the
/// workdir, directories with a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: Kind,
    pub path: PathBuf,
    pub dir: bool,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            Kind::Added => 'A',
            Kind::Modified => 'M',
            Kind::Deleted => 'D',
        };
        let slash = if self.dir { "/" } else { "" };
        write!(f, "{k}  {}{slash}", self.path.display())
    }
}

/// An overlayfs whiteout: a character device 0:0 in the upper layer.
fn whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Whether upper directory `dir` hides the lower one entirely (overlayfs' opaque mark,
/// `trusted.` as root, `user.` in a user namespace).
fn opaque(dir: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|name| {
            let mut value = [0u8; 4];
            matches!(rustix::fs::lgetxattr(dir, *name, &mut value), Ok(1) if value[0] == b'y')
        })
}

/// Entries of `dir`, sorted by name (none when it is missing).
fn entries(dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
    let mut names = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<Vec<_>>>()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    names.sort_unstable();
    Ok(names)
}

/// The changes the upper layer holds against `lower`, sorted by path.
pub fn changes(lower: &Path, upper: &Path) -> io::Result<Vec<Change>> {
    let mut out = Vec::new();
    list(lower, upper, Path::new(""), &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn list(lower: &Path, upper: &Path, rel: &Path, out: &mut Vec<Change>) -> io::Result<()> {
    let (lo_dir, up_dir) = (lower.join(rel), upper.join(rel));
    let names = entries(&up_dir)?;
    if opaque(&up_dir) {
        for name in entries(&lo_dir)? {
            if !names.contains(&name) {
                let dir = std::fs::symlink_metadata(lo_dir.join(&name))?.is_dir();
                out.push(Change {
                    kind: Kind::Deleted,
                    path: rel.join(&name),
                    dir,
                });
            }
        }
    }
    for name in names {
        let path = rel.join(&name);
        let up = std::fs::symlink_metadata(up_dir.join(&name))?;
        let lo = std::fs::symlink_metadata(lo_dir.join(&name)).ok();
        let change = |kind, dir| Change {
            kind,
            path: path.clone(),
            dir,
        };
        if whiteout(&up) {
            if let Some(lo) = lo {
                out.push(change(Kind::Deleted, lo.is_dir()));
            }
        } else if up.is_dir() {
            match lo {
                None => out.push(change(Kind::Added, true)),
                Some(lo) if !lo.is_dir() => out.push(change(Kind::Modified, true)),
                Some(lo)
                    if lo.mode() != up.mode() || lo.uid() != up.uid() || lo.gid() != up.gid() =>
                {
                    out.push(change(Kind::Modified, true))
                }
                Some(_) => {}
            }
            list(lower, upper, &path, out)?;
        } else {
            let kind = if lo.is_some() {
                Kind::Modified
            } else {
                Kind::Added
            };
            out.push(change(kind, false));
        }
    }
    Ok(())
}

/// Applies the upper layer to `lower` (the workdir): deletions, directories, and every
/// file, link and FIFO written under a temporary name in its directory and renamed into
/// place, with its mode, times, extended attributes, hard links and (as root) owner.
/// The workdir's file system is synced once at the end (before the layer and its mark
/// go), not file by file: a commit cut short is redone whole by `recover`.
pub fn commit(lower: &Path, upper: &Path) -> io::Result<()> {
    apply(lower, upper, Path::new(""), &mut Vec::new())?;
    rustix::fs::syncfs(std::fs::File::open(lower)?)?;
    Ok(())
}

fn remove_all(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// `linked`: (upper inode, committed path) of the files with several names so far, so
/// that their other names become hard links again.
fn apply(
    lower: &Path,
    upper: &Path,
    rel: &Path,
    linked: &mut Vec<(u64, PathBuf)>,
) -> io::Result<()> {
    let (lo_dir, up_dir) = (lower.join(rel), upper.join(rel));
    let names = entries(&up_dir)?;
    if opaque(&up_dir) {
        for name in entries(&lo_dir)? {
            if !names.contains(&name) {
                remove_all(&lo_dir.join(&name))?;
            }
        }
    }
    for name in names {
        let (up, lo) = (up_dir.join(&name), lo_dir.join(&name));
        let meta = std::fs::symlink_metadata(&up)?;
        if whiteout(&meta) {
            remove_all(&lo)?;
            continue;
        }
        if meta.is_dir() {
            if !std::fs::symlink_metadata(&lo).is_ok_and(|m| m.is_dir()) {
                remove_all(&lo)?;
                std::fs::create_dir(&lo)?;
            }
            apply(lower, upper, &rel.join(&name), linked)?;
            copy_xattrs(&up_dir.join(&name), &lo)?;
            set_metadata(&lo, &meta)?;
            continue;
        }
        let tmp = lo_dir.join(temp_name(&name));
        remove_all(&tmp)?;
        let ft = meta.file_type();
        let first_name = linked.iter().find(|(ino, _)| *ino == meta.ino());
        if let (true, Some((_, first))) = (ft.is_file() && meta.nlink() > 1, first_name) {
            std::fs::hard_link(first, &tmp)?;
            std::fs::rename(&tmp, &lo)?;
            continue;
        }
        if ft.is_file() {
            std::fs::copy(&up, &tmp)?;
            if meta.nlink() > 1 {
                linked.push((meta.ino(), lo.clone()));
            }
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&up)?, &tmp)?;
        } else if ft.is_fifo() {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                &tmp,
                rustix::fs::FileType::Fifo,
                rustix::fs::Mode::from_raw_mode(meta.mode() & 0o7777),
                0,
            )?;
        } else {
            log::warn!(
                "commit: {} is a device or socket; not committed",
                rel.join(&name).display()
            );
            continue;
        }
        if !ft.is_symlink() {
            copy_xattrs(&up, &tmp)?;
        }
        set_metadata(&tmp, &meta)?;
        if std::fs::symlink_metadata(&lo).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir_all(&lo)?;
        }
        std::fs::rename(&tmp, &lo)?;
    }
    Ok(())
}

fn temp_name(name: &std::ffi::OsStr) -> std::ffi::OsString {
    let mut t = std::ffi::OsString::from(".sandlet-commit-");
    t.push(name);
    t
}

/// Names of the extended attributes of `path` (not following a link) that a commit
/// carries: `user.*`, and as root `trusted.*` and `security.*`; never overlayfs' own.
fn xattr_names(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let root = rustix::process::geteuid().is_root();
    let mut list = vec![0u8; rustix::fs::llistxattr_query(path)?];
    let n = rustix::fs::llistxattr(path, &mut list[..])?;
    Ok(list[..n]
        .split(|&b| b == 0)
        .filter(|name| {
            let ours = name.starts_with(b"user.")
                || (root && (name.starts_with(b"trusted.") || name.starts_with(b"security.")));
            ours && !name.starts_with(b"trusted.overlay.") && !name.starts_with(b"user.overlay.")
        })
        .map(<[u8]>::to_vec)
        .collect())
}

/// Makes the extended attributes of `to` those of `from` (overlayfs' own aside); a
/// file system without them is left alone.
fn copy_xattrs(from: &Path, to: &Path) -> io::Result<()> {
    let unsupported = |e: &rustix::io::Errno| *e == rustix::io::Errno::OPNOTSUPP;
    let wanted = match xattr_names(from) {
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => return Ok(()),
        other => other?,
    };
    for name in xattr_names(to).unwrap_or_default() {
        if !wanted.contains(&name) {
            let name = std::ffi::OsStr::from_bytes(&name);
            match rustix::fs::lremovexattr(to, name) {
                Err(e) if !unsupported(&e) => return Err(e.into()),
                _ => {}
            }
        }
    }
    for name in wanted {
        let name = std::ffi::OsStr::from_bytes(&name);
        let mut value = vec![0u8; rustix::fs::lgetxattr_query(from, name)?];
        let n = rustix::fs::lgetxattr(from, name, &mut value[..])?;
        match rustix::fs::lsetxattr(to, name, &value[..n], rustix::fs::XattrFlags::empty()) {
            Err(e) if !unsupported(&e) => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

/// Mode (not for links), owner (as root) and times of `meta` onto `path`.
fn set_metadata(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    use rustix::fs::{AtFlags, Timespec, Timestamps};
    let link = meta.file_type().is_symlink();
    if !link {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid()))?;
        if !link {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec(),
        },
        last_modification: Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec(),
        },
    };
    rustix::fs::utimensat(rustix::fs::CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_lines() {
        let c = |kind, path: &str, dir| Change {
            kind,
            path: path.into(),
            dir,
        };
        assert_eq!(c(Kind::Added, "a/b", false).to_string(), "A  a/b");
        assert_eq!(c(Kind::Deleted, "d", true).to_string(), "D  d/");
        assert_eq!(c(Kind::Modified, "m", false).to_string(), "M  m");
    }
}
