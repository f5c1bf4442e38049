//! `--chroot DIR`: DIR becomes `/` for the command (pivot_root in its mount namespace,
//! the old root detached; see [`crate::overlay::ViewPlan`]). Paths the command names
//! (`-r`, `-w`, `--cwd`, `--fs-mount`'s VIRTUAL, `--fs-deny`, the executable) are paths
//! of the new root: sandlet resolves them inside DIR, symlinks included, so that `..` or
//! an absolute link never leads back to the host.
//!
//! Three directories of the new root are mounts sandlet makes (when DIR has them):
//! `/proc` (the host's, read-only, the pid view going through the usual `/proc` rules),
//! `/dev` (a tmpfs holding only [`DEVICES`], bound from the host) and `/tmp` (an empty
//! private tmpfs). Paths beneath them are judged by what will be there.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::parse::ParseError;
use crate::error::PolicyError;

/// The device files of the new root's `/dev` (those the host has), bound from the host.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// A judged `--chroot` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The directory on the host (canonical; a directory, not `/`).
    pub dir: PathBuf,
    /// A pty slave of the host (`/dev/pts/N`), bound at the same path in the new
    /// root's `/dev`: the terminal of an OCI container.
    pub terminal: Option<PathBuf>,
    /// Empty tmpfs mounts (an OCI container's): (path in the root, options).
    pub tmpfs: Vec<(PathBuf, String)>,
    /// The host's `/sys` bound read-only at `/sys` (an OCI container's sysfs mount).
    pub sysfs: bool,
}

/// What a path of the new root names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A file of the root directory: its host path (beneath [`Root::dir`]).
    Tree(PathBuf),
    /// Beneath `/proc` (or `/sys`, with [`Root::sysfs`]): the host's own path.
    Proc(PathBuf),
    /// `/dev` itself or one of [`DEVICES`]: the host's own path.
    Dev(PathBuf),
    /// `/tmp` itself (the private tmpfs is empty).
    Tmp,
}

impl Root {
    /// Judges `--chroot DIR`.
    pub fn new(dir: &Path) -> Result<Root, PolicyError> {
        let bad = |why: String| PolicyError::BadValue {
            flag: "--chroot",
            value: dir.display().to_string(),
            source: ParseError(why),
        };
        let real = std::fs::canonicalize(dir).map_err(|e| bad(e.to_string()))?;
        if !real.is_dir() {
            return Err(bad("not a directory".into()));
        }
        if real == Path::new("/") {
            return Err(bad("the host's root is not another root".into()));
        }
        Ok(Root {
            dir: real,
            terminal: None,
            tmpfs: Vec::new(),
            sysfs: false,
        })
    }

    /// This root with an empty tmpfs at `path` (an existing directory of the root, or
    /// `/dev/shm`), with `options` (`size=`, `mode=`, `nr_inodes=`, comma-separated).
    pub fn with_tmpfs(mut self, path: &Path, options: &str) -> Result<Root, PolicyError> {
        let bad = |why: &str| PolicyError::BadValue {
            flag: "tmpfs mount",
            value: format!("{}:{options}", path.display()),
            source: ParseError(why.into()),
        };
        let path = lexical(path);
        let good_option = |o: &str| {
            let (k, v) = o.split_once('=').unwrap_or((o, ""));
            matches!(k, "size" | "mode" | "nr_inodes")
                && !v.is_empty()
                && v.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !options.is_empty() && !options.split(',').all(good_option) {
            return Err(bad("options may be size=, mode=, nr_inodes="));
        }
        let shm = path == Path::new("/dev/shm") && self.has_dir("dev");
        if !shm {
            match self.place(&path) {
                Ok(Place::Tree(host)) if host.is_dir() && host != self.dir => {}
                _ => return Err(bad("not a directory of the root (nor /dev/shm)")),
            }
        }
        self.tmpfs.push((path, options.to_owned()));
        Ok(self)
    }

    /// This root with the pty slave `tty` (a character device beneath /dev/pts) in its
    /// `/dev`.
    pub fn with_terminal(mut self, tty: &Path) -> Result<Root, PolicyError> {
        use std::os::unix::fs::FileTypeExt;
        let ok = tty.starts_with("/dev/pts")
            && lexical(tty) == tty
            && std::fs::metadata(tty).is_ok_and(|m| m.file_type().is_char_device());
        if !ok {
            return Err(PolicyError::BadValue {
                flag: "terminal",
                value: tty.display().to_string(),
                source: ParseError("not a pty slave beneath /dev/pts".into()),
            });
        }
        self.terminal = Some(tty.to_owned());
        Ok(self)
    }

    /// Whether the root has `/name` as a directory (where sandlet mounts `/proc`,
    /// `/dev` and `/tmp`).
    pub fn has_dir(&self, name: &str) -> bool {
        std::fs::symlink_metadata(self.dir.join(name)).is_ok_and(|m| m.is_dir())
    }

    /// What `path` (absolute, a path of the new root) names, resolved inside the root:
    /// `..` stops at the root and absolute symlinks start from it.
    pub fn place(&self, path: &Path) -> io::Result<Place> {
        let clean = lexical(path);
        let mut parts = clean.components().skip(1);
        let first = parts.next().map(|c| c.as_os_str().as_bytes());
        let rest: PathBuf = parts.collect();
        let mounted = |name: &str| first == Some(name.as_bytes()) && self.has_dir(name);
        if mounted("proc") {
            let host = Path::new("/proc").join(&rest);
            std::fs::symlink_metadata(&host)?;
            return Ok(Place::Proc(host));
        }
        if mounted("dev") && self.terminal.as_deref() == Some(clean.as_path()) {
            return Ok(Place::Dev(clean));
        }
        // An empty tmpfs: only its mount point exists.
        if let Some((at, _)) = self.tmpfs.iter().find(|(at, _)| clean.starts_with(at)) {
            return match clean == *at {
                true => Ok(Place::Tmp),
                false => Err(io::Error::from_raw_os_error(libc::ENOENT)),
            };
        }
        if self.sysfs && first == Some(b"sys".as_slice()) && self.has_dir("sys") {
            let host = Path::new("/sys").join(&rest);
            std::fs::symlink_metadata(&host)?;
            return Ok(Place::Proc(host));
        }
        if mounted("dev") {
            let listed = rest.as_os_str().is_empty()
                || DEVICES
                    .iter()
                    .any(|d| rest.as_os_str().as_bytes() == d.as_bytes());
            let host = Path::new("/dev").join(&rest);
            if !listed || std::fs::metadata(&host).is_err() {
                return Err(io::Error::from_raw_os_error(libc::ENOENT));
            }
            return Ok(Place::Dev(host));
        }
        if mounted("tmp") {
            return match rest.as_os_str().is_empty() {
                true => Ok(Place::Tmp),
                false => Err(io::Error::from_raw_os_error(libc::ENOENT)),
            };
        }
        self.resolve(&clean).map(Place::Tree)
    }

    /// The host path of `path` (a path of the new root), resolved inside the root.
    pub fn resolve(&self, path: &Path) -> io::Result<PathBuf> {
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        let dir = rustix::fs::open(
            &self.dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let rel = path.strip_prefix("/").unwrap_or(path);
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let fd = rustix::fs::openat2(
            &dir,
            rel,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )?;
        let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        let host = std::fs::read_link(link)?;
        // A file beneath the root, unless the root itself moved meanwhile.
        match host.starts_with(&self.dir) {
            true => Ok(host),
            false => Err(io::Error::from_raw_os_error(libc::EXDEV)),
        }
    }

    /// Whether `path` (a path of the new root) will exist for the command.
    pub fn exists(&self, path: &Path) -> bool {
        self.place(path).is_ok()
    }

    /// The entries of directory `dir` of the new root, as paths of the new root.
    pub fn list(&self, dir: &Path) -> Vec<PathBuf> {
        let host = match self.place(dir) {
            Ok(Place::Tree(p) | Place::Proc(p)) => p,
            Ok(Place::Dev(_)) if dir.components().count() == 2 => {
                return DEVICES
                    .iter()
                    .map(|d| dir.join(d))
                    .filter(|p| self.exists(p))
                    .collect();
            }
            _ => return Vec::new(),
        };
        let Ok(entries) = std::fs::read_dir(host) else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = entries
            .flatten()
            .map(|e| lexical(dir).join(e.file_name()))
            .filter(|p| self.exists(p))
            .collect();
        super::parse::sort_unique(&mut out);
        out
    }
}

/// `path` made absolute with `.` and `..` removed lexically (`..` of `/` is `/`), as the
/// kernel does beneath a root.
pub fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_stays_beneath_the_root() {
        assert_eq!(lexical(Path::new("/a/../../b")), PathBuf::from("/b"));
        assert_eq!(lexical(Path::new("/..")), PathBuf::from("/"));
        assert_eq!(lexical(Path::new("/a/./b/")), PathBuf::from("/a/b"));
    }

    #[test]
    fn resolution_never_leaves_the_root() {
        let dir = std::env::temp_dir().join(format!("sandlet-root-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["etc", "proc", "dev", "tmp", "usr/lib"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(dir.join("etc/passwd"), "root").unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", dir.join("usr/up")).unwrap();
        std::os::unix::fs::symlink("usr/lib", dir.join("lib")).unwrap();
        let root = Root::new(&dir).unwrap();
        let inside = |p: &str| root.resolve(Path::new(p)).unwrap();
        assert_eq!(inside("/abs/passwd"), root.dir.join("etc/passwd"));
        assert_eq!(inside("/usr/up/passwd"), root.dir.join("etc/passwd"));
        assert_eq!(inside("/../../etc"), root.dir.join("etc"));
        assert_eq!(inside("/lib"), root.dir.join("usr/lib"));
        assert_eq!(inside("/"), root.dir);
        assert_eq!(
            root.place(Path::new("/proc/self")).unwrap(),
            Place::Proc("/proc/self".into())
        );
        assert_eq!(
            root.place(Path::new("/dev/null")).unwrap(),
            Place::Dev("/dev/null".into())
        );
        assert!(root.place(Path::new("/dev/sda")).is_err());
        assert_eq!(root.place(Path::new("/tmp")).unwrap(), Place::Tmp);
        assert!(root.place(Path::new("/tmp/x")).is_err());
        assert!(root
            .list(Path::new("/dev"))
            .contains(&PathBuf::from("/dev/null")));
        assert!(root.list(Path::new("/")).contains(&PathBuf::from("/etc")));
        assert!(Root::new(Path::new("/")).is_err());
        assert!(Root::new(&dir.join("etc/passwd")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
