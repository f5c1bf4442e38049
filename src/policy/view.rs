//! The filesystem view: `--workdir` makes a copy-on-write view of a directory. The child
//! builds it with real mounts (overlayfs, the directory as the lower layer and a private
//! upper layer) in a user + mount namespace of its own (see [`crate::overlay`]); the
//! changes reach the directory only when the run ends and the policy says commit.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::parse::ParseError;
use super::root::{Place, Root};
use crate::error::PolicyError;

/// What happens to the command's changes when the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Apply them to the directory.
    Commit,
    /// Throw them away.
    Abort,
    /// Leave the directory as it is and keep the upper layer (its path is printed).
    Keep,
}

impl FromStr for Finish {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Finish, ParseError> {
        match s {
            "commit" => Ok(Finish::Commit),
            "abort" => Ok(Finish::Abort),
            "keep" => Ok(Finish::Keep),
            _ => Err(ParseError(format!(
                "'{s}' is not one of commit, abort, keep"
            ))),
        }
    }
}

/// The view's part of a [`super::Spec`], as the producers give it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewSpec {
    /// `--workdir DIR`.
    pub workdir: Option<PathBuf>,
    /// `--on-exit` (default commit): what an exit with status 0 does with the changes.
    pub on_exit: Option<Finish>,
    /// `--on-error` (default abort): what any other end does with them.
    pub on_error: Option<Finish>,
    /// `--dry-run`: list the changes, then abort.
    pub dry_run: bool,
    /// `--fs-storage DIR`: where upper layers are made.
    pub storage: Option<PathBuf>,
    /// `--fs-deny PATH`: paths the command cannot reach at all.
    pub deny: Vec<PathBuf>,
    /// `--fs-mount VIRTUAL:HOST[:ro]`: (VIRTUAL, HOST, read-only) as given.
    pub mounts: Vec<(PathBuf, PathBuf, bool)>,
    /// `--chroot DIR`: DIR is `/` for the command.
    pub chroot: Option<PathBuf>,
    /// `--image REF`: a copy-on-write root over a local container image.
    pub image: Option<String>,
    /// With `--chroot`: a pty slave of the host to bind into the new root's /dev (an
    /// OCI container's terminal; no flag sets it).
    pub terminal: Option<PathBuf>,
    /// With `--chroot`: empty tmpfs mounts, (path in the root, options) (an OCI
    /// container's; no flag sets them).
    pub tmpfs: Vec<(PathBuf, String)>,
    /// With `--chroot`: the host's /sys read-only at /sys (an OCI container's).
    pub sysfs: bool,
    /// `--max-disk SIZE`: the most the upper layer may hold, in bytes.
    pub max_disk: Option<u64>,
}

/// A `--fs-deny` path, canonical, and whether it is a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub path: PathBuf,
    pub dir: bool,
}

/// The host path of `path` as the command names it: resolved in the `--chroot` root
/// (which only files of the root's own tree may be), else on the host from `cwd`.
fn host_path(path: &Path, cwd: &Path, root: Option<&Root>) -> std::io::Result<PathBuf> {
    match root {
        Some(root) => match root.place(&super::root::lexical(path))? {
            Place::Tree(host) => Ok(host),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "under --chroot, not beneath /proc, /dev or /tmp",
            )),
        },
        None => std::fs::canonicalize(cwd.join(path)),
    }
}

/// Judges the `--fs-deny` paths: relative ones are taken from `cwd` (the command's
/// working directory), every spelling is resolved to the file it names (symlinks
/// included), and each must exist and not be the root (of the host, or the `--chroot`).
pub fn denied(
    paths: &[PathBuf],
    cwd: &Path,
    root: Option<&Root>,
) -> Result<Vec<Denied>, PolicyError> {
    let top = root.map_or(Path::new("/"), |r| r.dir.as_path());
    let mut out: Vec<Denied> = Vec::new();
    for given in paths {
        let path = host_path(given, cwd, root).map_err(|source| PolicyError::BadPath {
            flag: "--fs-deny",
            path: given.clone(),
            source,
        })?;
        if path == top {
            return Err(PolicyError::BadValue {
                flag: "--fs-deny",
                value: given.display().to_string(),
                source: ParseError("the root directory cannot be denied".into()),
            });
        }
        if !out.iter().any(|d| d.path == path) {
            let dir = path.is_dir();
            out.push(Denied { path, dir });
        }
    }
    Ok(out)
}

/// `--fs-mount VIRTUAL:HOST[:ro|:rw]`: (VIRTUAL, HOST, read-only). Only a trailing
/// `:ro` or `:rw` is an option (default `rw`); the rest splits at its first `:`, so HOST
/// may hold colons. VIRTUAL must be absolute; neither may be empty.
pub fn parse_mount(spec: &str) -> Result<(PathBuf, PathBuf, bool), ParseError> {
    let (rest, read_only) = match spec.rsplit_once(':') {
        Some((rest, "ro")) => (rest, true),
        Some((rest, "rw")) => (rest, false),
        _ => (spec, false),
    };
    let Some((at, host)) = rest.split_once(':') else {
        return Err(ParseError("expected VIRTUAL:HOST[:ro]".into()));
    };
    if at.is_empty() || host.is_empty() {
        return Err(ParseError("VIRTUAL and HOST must both be given".into()));
    }
    if !at.starts_with('/') {
        return Err(ParseError("VIRTUAL must be an absolute path".into()));
    }
    Ok((PathBuf::from(at), PathBuf::from(host), read_only))
}

/// A judged `--fs-mount`: HOST bound at VIRTUAL in the command's mount namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounted {
    /// Where it is mounted (canonical; it exists, as the same kind of file): on the
    /// host's tree, or under `--chroot` beneath the root directory.
    pub at: PathBuf,
    /// Where the command sees it: `at`, or under `--chroot` the path in the new root.
    pub seen: PathBuf,
    /// What it sees there (canonical).
    pub host: PathBuf,
    pub read_only: bool,
    pub dir: bool,
    /// Under `--chroot`, beneath `/dev`: made in sandlet's own tmpfs there (never on
    /// the host), as an OCI runtime puts `/dev/termination-log`.
    pub in_dev: bool,
}

/// Judges the `--fs-mount`s: HOST (relative to `cwd`) must exist, VIRTUAL must exist
/// as the same kind of file (sandlet makes no mount point, on the host or in it) and
/// not be the root (of the host, or the `--chroot`).
pub fn mounts(
    given: &[(PathBuf, PathBuf, bool)],
    cwd: &Path,
    root: Option<&Root>,
) -> Result<Vec<Mounted>, PolicyError> {
    let top = root.map_or(Path::new("/"), |r| r.dir.as_path());
    let bad = |spec: String, why: &str| PolicyError::BadValue {
        flag: "--fs-mount",
        value: spec,
        source: ParseError(why.into()),
    };
    let mut out = Vec::new();
    for (at, host, read_only) in given {
        let spec = format!("{}:{}", at.display(), host.display());
        let host = std::fs::canonicalize(cwd.join(host))
            .map_err(|e| bad(spec.clone(), &format!("HOST: {e}")))?;
        if let Some(r) = root.filter(|r| r.has_dir("dev")) {
            let seen = super::root::lexical(at);
            if let Ok(rest) = seen.strip_prefix("/dev") {
                let name = rest.to_string_lossy();
                if rest.as_os_str().is_empty() || name.starts_with("pts") || name.starts_with("shm")
                {
                    return Err(bad(spec, "VIRTUAL cannot be /dev, /dev/pts or /dev/shm"));
                }
                out.push(Mounted {
                    at: r.dir.join("dev").join(rest),
                    seen,
                    dir: host.is_dir(),
                    host,
                    read_only: *read_only,
                    in_dev: true,
                });
                continue;
            }
        }
        let at = host_path(at, Path::new("/"), root).map_err(|e| {
            bad(
                spec.clone(),
                &format!("VIRTUAL: {e} (sandlet makes no mount point: create it first)"),
            )
        })?;
        if at == top {
            return Err(bad(spec, "VIRTUAL cannot be the root directory"));
        }
        let dir = host.is_dir();
        if at.is_dir() != dir {
            return Err(bad(
                spec,
                "VIRTUAL and HOST must both be directories or both files",
            ));
        }
        let seen = match root {
            Some(r) => Path::new("/").join(at.strip_prefix(&r.dir).unwrap_or(&at)),
            None => at.clone(),
        };
        out.push(Mounted {
            at,
            seen,
            host,
            read_only: *read_only,
            dir,
            in_dev: false,
        });
    }
    Ok(out)
}

/// A judged view: the directory and storage exist, are directories and do not overlap.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The directory the command sees copy-on-write (canonical).
    pub workdir: PathBuf,
    /// Where this run's upper layer is made (canonical; created if missing).
    pub storage: PathBuf,
    pub on_exit: Finish,
    pub on_error: Finish,
    pub dry_run: bool,
    /// `--max-disk`: the upper layer is a tmpfs of this size (in the command's mount
    /// namespace), so the write that crosses it fails with ENOSPC.
    pub max_disk: Option<u64>,
}

impl View {
    /// Judges `spec`; `None` when no view is asked for. `uid` names the default storage
    /// directory when `XDG_RUNTIME_DIR` is not set.
    pub fn new(spec: &ViewSpec, uid: u32) -> Result<Option<View>, PolicyError> {
        let Some(dir) = &spec.workdir else {
            for (given, flag) in [
                (spec.on_exit.is_some(), "--on-exit"),
                (spec.on_error.is_some(), "--on-error"),
                (spec.dry_run, "--dry-run"),
                (spec.storage.is_some(), "--fs-storage"),
                (spec.max_disk.is_some(), "--max-disk"),
            ] {
                if given {
                    return Err(PolicyError::Requires {
                        flag,
                        needs: "--workdir",
                    });
                }
            }
            return Ok(None);
        };
        let workdir = directory("--workdir", dir)?;
        if workdir == Path::new("/") {
            return Err(PolicyError::BadValue {
                flag: "--workdir",
                value: dir.display().to_string(),
                source: ParseError("the root directory cannot be a workdir".into()),
            });
        }
        let storage = match &spec.storage {
            Some(s) => s.clone(),
            None => default_storage(uid),
        };
        create_private(&storage).map_err(|source| PolicyError::BadPath {
            flag: "--fs-storage",
            path: storage.clone(),
            source,
        })?;
        let storage = directory("--fs-storage", &storage)?;
        // Another user who owns (or may write) the storage, or the default's parent,
        // could change a layer before it is committed.
        let mut guarded = vec![storage.as_path()];
        if spec.storage.is_none() {
            guarded.extend(storage.parent());
        }
        for dir in guarded {
            let meta = std::fs::metadata(dir).map_err(|source| PolicyError::BadPath {
                flag: "--fs-storage",
                path: dir.to_owned(),
                source,
            })?;
            use std::os::unix::fs::MetadataExt;
            if meta.uid() != rustix::process::geteuid().as_raw() || meta.mode() & 0o022 != 0 {
                return Err(PolicyError::BadValue {
                    flag: "--fs-storage",
                    value: dir.display().to_string(),
                    source: ParseError(
                        "must be owned by the user running sandlet and writable by no one else"
                            .into(),
                    ),
                });
            }
        }
        if storage.starts_with(&workdir) {
            return Err(PolicyError::BadValue {
                flag: "--fs-storage",
                value: storage.display().to_string(),
                source: ParseError(format!(
                    "is inside the workdir {} (the changes would change the lower layer)",
                    workdir.display()
                )),
            });
        }
        let view = View {
            workdir,
            storage,
            on_exit: spec.on_exit.unwrap_or(Finish::Commit),
            on_error: spec.on_error.unwrap_or(Finish::Abort),
            dry_run: spec.dry_run,
            max_disk: spec.max_disk,
        };
        if view.max_disk.is_some() && [view.on_exit, view.on_error].contains(&Finish::Keep) {
            return Err(PolicyError::Conflict {
                flag: "--max-disk",
                other: "keep (a size-limited layer lives in memory and ends with the run)",
            });
        }
        Ok(Some(view))
    }

    /// What the run's end does with the changes: `--dry-run` aborts whatever the status.
    pub fn finish(&self, success: bool) -> Finish {
        match (self.dry_run, success) {
            (true, _) => Finish::Abort,
            (false, true) => self.on_exit,
            (false, false) => self.on_error,
        }
    }
}

/// `$XDG_RUNTIME_DIR/sandlet/layers`, else `/tmp/sandlet-UID/layers`.
pub fn default_storage(uid: u32) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Path::new(&dir).join("sandlet/layers"),
        None => PathBuf::from(format!("/tmp/sandlet-{uid}/layers")),
    }
}

/// Creates `dir` and its missing parents with mode 0700.
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// `path`, canonical, which must be an existing directory.
fn directory(flag: &'static str, path: &Path) -> Result<PathBuf, PolicyError> {
    let canonical = std::fs::canonicalize(path).map_err(|source| PolicyError::BadPath {
        flag,
        path: path.to_owned(),
        source,
    })?;
    if !canonical.is_dir() {
        return Err(PolicyError::BadValue {
            flag,
            value: path.display().to_string(),
            source: ParseError("not a directory".into()),
        });
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_values() {
        assert_eq!("commit".parse(), Ok(Finish::Commit));
        assert_eq!("abort".parse(), Ok(Finish::Abort));
        assert_eq!("keep".parse(), Ok(Finish::Keep));
        for bad in ["", "Commit", "yes", "abort "] {
            assert!(bad.parse::<Finish>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn no_workdir_no_view_flags() {
        assert!(matches!(View::new(&ViewSpec::default(), 0), Ok(None)));
        let spec = ViewSpec {
            dry_run: true,
            ..Default::default()
        };
        assert!(matches!(
            View::new(&spec, 0),
            Err(PolicyError::Requires {
                flag: "--dry-run",
                ..
            })
        ));
    }

    #[test]
    fn what_the_end_does() {
        let view = View {
            workdir: "/w".into(),
            storage: "/s".into(),
            on_exit: Finish::Commit,
            on_error: Finish::Abort,
            dry_run: false,
            max_disk: None,
        };
        assert_eq!(view.finish(true), Finish::Commit);
        assert_eq!(view.finish(false), Finish::Abort);
        let dry = View {
            dry_run: true,
            ..view
        };
        assert_eq!(dry.finish(true), Finish::Abort);
    }
}
