//! The copy-on-write view of `--workdir` (see [`crate::policy::view`]): the kernel does
//! it. The child enters a mount namespace of its own (and a user namespace when sandlet
//! is not root) and mounts overlayfs on the directory, the directory itself as the lower
//! layer and a fresh upper layer under the storage directory; nothing is trapped for it.
//! When the run ends, sandlet lists the upper layer's changes, and commits them to the
//! directory or throws them away.
//!
//! Parent side: [`Layer`] (the run's upper and work directories), [`changes`] and
//! [`commit`]. Child side: [`ViewPlan`], built before fork, whose steps allocate nothing.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::policy::view::{Denied, Finish, Mounted, View};

pub mod commit;
pub mod pivot;
pub use commit::{changes, commit, Change, Kind};

/// In a layer directory: the workdir it belongs to.
const WORKDIR_FILE: &str = "workdir";
/// In a layer directory while it is being committed (written and synced before the
/// first change, removed with the layer after the last): `sandlet recover` finishes a
/// commit that a killed sandlet left half done.
const COMMITTING_FILE: &str = "committing";

/// One run's layer: `dir/upper` holds the changes, `dir/work` is overlayfs' scratch.
#[derive(Debug)]
pub struct Layer {
    pub dir: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// When the run began, as the kernel stamps inode changes (the upper's ctime): a
    /// file of the workdir with a later ctime was changed on the host during the run.
    started: (i64, i64),
    /// `--max-disk`: the layer directory as the child mounted it (a tmpfs that lives as
    /// long as this descriptor), where `upper` really is.
    pub disk: Option<std::os::fd::OwnedFd>,
}

impl Layer {
    /// Makes a new layer under the view's storage directory (mode 0700).
    pub fn create(view: &View) -> io::Result<Layer> {
        use std::os::unix::fs::DirBuilderExt;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let name = format!("run-{}-{}", std::process::id(), now.as_nanos());
        let dir = view.storage.join(name);
        let mut builder = std::fs::DirBuilder::new();
        builder.mode(0o700);
        builder.create(&dir)?;
        let upper = dir.join("upper");
        builder.create(&upper)?;
        let meta = std::fs::metadata(&upper)?;
        let layer = Layer {
            work: dir.join("work"),
            started: (meta.ctime(), meta.ctime_nsec()),
            disk: None,
            upper,
            dir,
        };
        builder.create(&layer.work)?;
        // Which workdir the layer belongs to, for `sandlet recover`.
        std::fs::write(
            layer.dir.join(WORKDIR_FILE),
            view.workdir.as_os_str().as_bytes(),
        )?;
        Ok(layer)
    }

    /// Where the changes are: `upper`, or under `--max-disk` the upper directory of the
    /// tmpfs, reached through its descriptor.
    pub fn changes_dir(&self) -> PathBuf {
        match &self.disk {
            Some(fd) => PathBuf::from(format!(
                "/proc/self/fd/{}/upper",
                std::os::fd::AsRawFd::as_raw_fd(fd)
            )),
            None => self.upper.clone(),
        }
    }

    /// Removes the layer (overlayfs leaves a mode-000 directory in `work`).
    pub fn remove(&self) -> io::Result<()> {
        open_up(&self.dir)?;
        std::fs::remove_dir_all(&self.dir)
    }
}

/// Gives every directory beneath `dir` (not following links) owner rights, so that it
/// can be emptied.
fn open_up(dir: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Ok(());
    }
    if meta.mode() & 0o700 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    for entry in std::fs::read_dir(dir)? {
        open_up(&entry?.path())?;
    }
    Ok(())
}

/// The overlayfs mount options for `lower`, `upper` and `work`; `userxattr` inside a
/// user namespace. Commas, colons and backslashes in paths are escaped.
pub fn mount_options(lower: &Path, upper: &Path, work: &Path, userxattr: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, path) in [
        ("lowerdir=", lower),
        ("upperdir=", upper),
        ("workdir=", work),
    ] {
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(key.as_bytes());
        for &b in path.as_os_str().as_bytes() {
            if matches!(b, b',' | b':' | b'\\') {
                out.push(b'\\');
            }
            out.push(b);
        }
    }
    if userxattr {
        out.extend_from_slice(b",userxattr");
    }
    out
}

#[derive(Debug)]
struct Disk {
    layer: CString,
    options: CString,
    upper: CString,
    work: CString,
}

/// Everything the child needs to build the view, allocated before fork.
#[derive(Debug)]
pub struct ViewPlan {
    /// Enter a user namespace too (sandlet is not root), mapping only its own ids.
    userns: bool,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    /// The overlay (`--workdir`): where, and its options.
    overlay: Option<(CString, CString)>,
    /// `--fs-deny` paths, and whether each is a directory.
    deny: Vec<(CString, bool)>,
    /// `--fs-mount`s: (HOST, VIRTUAL, the flags of a read-only remount, or `None`).
    binds: Vec<(CString, CString, Option<rustix::mount::MountFlags>)>,
    /// `--max-disk`: a tmpfs mounted over the layer directory (options), and the upper
    /// and work directories to make in it.
    disk: Option<Disk>,
    /// The working directory when it lies at or beneath a mounted path (the workdir, a
    /// denied directory): entered again once the view is mounted, so that it names the
    /// view's directory, not the host's. Elsewhere it is left as it is (it may even be
    /// a directory the user cannot enter).
    cwd: Option<CString>,
    /// Landlock rules at or beneath the workdir, added once the view is mounted.
    rules: Vec<(CString, u64)>,
    /// `--chroot`: the new root to pivot into.
    root: Option<pivot::RootPlan>,
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

impl ViewPlan {
    pub fn new(
        view: Option<(&View, &Layer)>,
        deny: &[Denied],
        mounts: &[Mounted],
        root: Option<&crate::policy::root::Root>,
        cwd: &Path,
        rules: &[(PathBuf, u64)],
    ) -> io::Result<ViewPlan> {
        let uid = rustix::process::geteuid().as_raw();
        let gid = rustix::process::getegid().as_raw();
        let userns = uid != 0;
        let bytes = |p: &Path| cstring(p.as_os_str().as_bytes());
        let overlay = match view {
            Some((view, layer)) => {
                let options = mount_options(&view.workdir, &layer.upper, &layer.work, userns);
                Some((bytes(&view.workdir)?, cstring(&options)?))
            }
            None => None,
        };
        let disk = match view {
            Some((
                View {
                    max_disk: Some(size),
                    ..
                },
                layer,
            )) => Some(Disk {
                layer: bytes(&layer.dir)?,
                options: cstring(format!("size={size},mode=0700").as_bytes())?,
                upper: bytes(&layer.upper)?,
                work: bytes(&layer.work)?,
            }),
            _ => None,
        };
        let real = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_owned());
        let mut covered = view.iter().map(|(v, _)| v.workdir.as_path());
        let beneath = covered.any(|p| real.starts_with(p))
            || deny.iter().any(|d| real.starts_with(&d.path))
            || mounts.iter().any(|m| real.starts_with(&m.at));
        let cwd = match beneath && root.is_none() {
            true => Some(cstring(real.as_os_str().as_bytes())?),
            false => None,
        };
        Ok(ViewPlan {
            userns,
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            overlay,
            disk,
            deny: deny
                .iter()
                .map(|d| Ok((cstring(d.path.as_os_str().as_bytes())?, d.dir)))
                .collect::<io::Result<_>>()?,
            binds: mounts
                .iter()
                .filter(|m| !m.in_dev)
                .map(|m| {
                    let ro = m.read_only.then(|| pivot::read_only_flags(&m.host));
                    Ok((bytes(&m.host)?, bytes(&m.at)?, ro))
                })
                .collect::<io::Result<_>>()?,
            cwd,
            rules: rules
                .iter()
                .map(|(p, rights)| Ok((cstring(p.as_os_str().as_bytes())?, *rights)))
                .collect::<io::Result<_>>()?,
            root: root.map(|r| pivot::RootPlan::new(r, mounts)).transpose()?,
        })
    }

    /// In the child: a new mount namespace (and user namespace, mapping only sandlet's
    /// uid and gid), whose mounts never propagate back. Allocates nothing.
    pub fn enter_namespaces(&self) -> io::Result<()> {
        crate::sys::unshare_namespaces(self.userns)?;
        if self.userns {
            write_file(c"/proc/self/setgroups", b"deny")?;
            write_file(c"/proc/self/uid_map", &self.uid_map)?;
            write_file(c"/proc/self/gid_map", &self.gid_map)?;
        }
        rustix::mount::mount_change(
            c"/",
            rustix::mount::MountPropagationFlags::PRIVATE
                | rustix::mount::MountPropagationFlags::REC,
        )?;
        Ok(())
    }

    /// In the child: under `--max-disk`, a tmpfs of that size over the layer directory
    /// (whose descriptor is returned, for sandlet to read the changes through after the
    /// namespace is gone); overlayfs over the workdir; the `--fs-mount`s; the
    /// `--fs-deny` paths covered; under `--chroot` the pivot into the new root; the
    /// Landlock rules that name paths of the view added to `ruleset`; then the working
    /// directory entered again (it may lie in the workdir). Allocates nothing.
    pub fn mount(
        &self,
        ruleset: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> io::Result<Option<std::os::fd::OwnedFd>> {
        use rustix::fs::{Mode, OFlags};
        use rustix::mount::MountFlags;
        let mut disk_fd = None;
        if let Some(d) = &self.disk {
            let flags = MountFlags::NOSUID | MountFlags::NODEV;
            let options = Some(d.options.as_c_str());
            rustix::mount::mount(c"tmpfs", d.layer.as_c_str(), c"tmpfs", flags, options)?;
            rustix::fs::mkdir(d.upper.as_c_str(), Mode::RWXU)?;
            rustix::fs::mkdir(d.work.as_c_str(), Mode::RWXU)?;
            let dir = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            disk_fd = Some(rustix::fs::open(d.layer.as_c_str(), dir, Mode::empty())?);
        }
        if let Some((target, options)) = &self.overlay {
            rustix::mount::mount(
                c"overlay",
                target.as_c_str(),
                c"overlay",
                MountFlags::empty(),
                Some(options.as_c_str()),
            )?;
        }
        if let Some(root) = &self.root {
            root.bind_root()?;
        }
        // `--fs-mount`: HOST (with what is mounted beneath it) at VIRTUAL; read-only
        // binds remounted so, keeping the flags the source mount has (a user namespace
        // may not clear them).
        for (host, at, read_only) in &self.binds {
            rustix::mount::mount_bind_recursive(host.as_c_str(), at.as_c_str())?;
            if let Some(flags) = read_only {
                rustix::mount::mount_remount(at.as_c_str(), *flags | MountFlags::BIND, c"")?;
            }
        }
        // A denied directory: an empty read-only tmpfs of mode 000 on top (without
        // capabilities nobody may list, enter or write it). A denied file: /dev/null
        // bound on top without device access, so every open of it is EACCES. Mount
        // points cannot be renamed, unlinked or replaced (EBUSY).
        let locked =
            MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        for (path, dir) in &self.deny {
            if *dir {
                rustix::mount::mount(
                    c"tmpfs",
                    path.as_c_str(),
                    c"tmpfs",
                    locked,
                    Some(c"mode=000,size=4k"),
                )?;
            } else {
                rustix::mount::mount_bind(c"/dev/null", path.as_c_str())?;
                rustix::mount::mount_remount(path.as_c_str(), locked | MountFlags::BIND, c"")?;
            }
        }
        if let Some(root) = &self.root {
            root.enter()?;
        }
        // A path missing from the view only means less access.
        if let Some(ruleset) = ruleset {
            for (path, rights) in &self.rules {
                match crate::landlock::add_path_rule(ruleset, path.as_c_str(), *rights) {
                    Ok(_) => {}
                    Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EACCES)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if let Some(cwd) = &self.cwd {
            rustix::process::chdir(cwd.as_c_str())?;
        }
        Ok(disk_fd)
    }
}

fn write_file(path: &std::ffi::CStr, data: &[u8]) -> io::Result<()> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    let n = rustix::io::write(&fd, data)?;
    if n != data.len() {
        return Err(io::Error::from_raw_os_error(libc::EIO));
    }
    Ok(())
}

/// What the end of a run did with the view's changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewEnd {
    pub finish: Finish,
    /// The change list, sorted by path (`--dry-run`).
    pub changes: Option<Vec<Change>>,
    /// Where the changes are kept (`keep`, or a commit that failed).
    pub kept: Option<PathBuf>,
    /// Why the commit, or listing the changes, failed.
    pub failed: Option<String>,
}

/// Ends the view of a run that ended well (`success`: exit status 0) or not: lists the
/// changes for `--dry-run`, then commits, removes or keeps the layer as `view` says.
pub fn end(view: &View, layer: Layer, success: bool) -> ViewEnd {
    let finish = view.finish(success);
    let mut out = ViewEnd {
        finish,
        changes: None,
        kept: None,
        failed: None,
    };
    if view.dry_run {
        match changes(&view.workdir, &layer.changes_dir()) {
            Ok(c) => out.changes = Some(c),
            Err(e) => out.failed = Some(format!("listing the changes: {e}")),
        }
    }
    let result = match finish {
        Finish::Keep => {
            out.kept = Some(layer.upper.clone());
            return out;
        }
        Finish::Commit => {
            let t = std::time::Instant::now();
            let r = commit_checked(&view.workdir, &layer);
            log::debug!("view: commit took {} us", t.elapsed().as_micros());
            r
        }
        Finish::Abort => Ok(()),
    };
    match result {
        Ok(()) => {
            if let Err(e) = layer.remove() {
                log::warn!("removing the layer {}: {e}", layer.dir.display());
            }
        }
        Err(e) if layer.disk.is_some() => {
            out.failed = Some(format!(
                "commit to {}: {e}; the changes are lost (a --max-disk layer ends with the run)",
                view.workdir.display()
            ));
            let _ = layer.remove();
        }
        Err(e) => {
            out.failed = Some(format!("commit to {}: {e}", view.workdir.display()));
            out.kept = Some(layer.upper.clone());
        }
    }
    out
}

/// Commits `layer` to `workdir` under an exclusive lock on the workdir (a second
/// sandbox's commit waits), unless a path the layer changes was also changed on the
/// host since the run began: then nothing is committed and the paths are named.
fn commit_checked(workdir: &Path, layer: &Layer) -> io::Result<()> {
    let dir = std::fs::File::open(workdir)?;
    rustix::fs::flock(&dir, rustix::fs::FlockOperation::LockExclusive)?;
    let changed = changes(workdir, &layer.changes_dir())?;
    if changed.is_empty() {
        // Nothing to apply, nothing to sync.
        return Ok(());
    }
    let mut conflicts = Vec::new();
    for change in changed {
        if let Ok(m) = std::fs::symlink_metadata(workdir.join(&change.path)) {
            if (m.ctime(), m.ctime_nsec()) > layer.started {
                conflicts.push(change.path.display().to_string());
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(io::Error::other(format!(
            "conflict: changed on the host during the run: {}",
            conflicts.join(", ")
        )));
    }
    // The layer and then the mark on disk first, so that a commit cut short (even by
    // a power loss) is finished by `recover` from a complete layer.
    let upper = layer.changes_dir();
    rustix::fs::syncfs(std::fs::File::open(&upper)?)?;
    let mark = layer.dir.join(COMMITTING_FILE);
    let kind: &[u8] = if layer.disk.is_some() {
        b"disk"
    } else {
        b"upper"
    };
    std::fs::write(&mark, kind)?;
    std::fs::File::open(&mark)?.sync_all()?;
    std::fs::File::open(&layer.dir)?.sync_all()?;
    commit(workdir, &upper)
}

/// What `sandlet recover` found in a layer directory.
#[derive(Debug)]
pub enum Recovered {
    /// A commit cut short, now finished; the layer is gone.
    Finished { layer: PathBuf, workdir: PathBuf },
    /// A commit cut short that could not be finished (the layer stays).
    Failed {
        layer: PathBuf,
        workdir: PathBuf,
        why: String,
    },
    /// A `--max-disk` commit cut short: its layer lived in memory and is gone.
    Lost { layer: PathBuf, workdir: PathBuf },
    /// A layer kept (`keep`, a failed commit) or in use by a running sandbox.
    Kept { layer: PathBuf, workdir: PathBuf },
}

/// Finishes the commits cut short in `storage` (under the workdir's lock, as a commit
/// takes it) and lists the other layers there; `only`: just the layers of that workdir.
pub fn recover(storage: &Path, only: Option<&Path>) -> io::Result<Vec<Recovered>> {
    let mut out = Vec::new();
    let mut layers: Vec<PathBuf> = match std::fs::read_dir(storage) {
        Ok(rd) => rd.map(|e| e.map(|e| e.path())).collect::<io::Result<_>>()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    layers.sort_unstable();
    for layer in layers {
        let Ok(workdir) = std::fs::read(layer.join(WORKDIR_FILE)) else {
            continue;
        };
        let workdir = PathBuf::from(std::ffi::OsString::from_vec(workdir));
        if only.is_some_and(|d| d != workdir) {
            continue;
        }
        let mark = layer.join(COMMITTING_FILE);
        if !mark.exists() {
            out.push(Recovered::Kept { layer, workdir });
            continue;
        }
        let lock = std::fs::File::open(&workdir)?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)?;
        // A live commit may have finished while we waited for the lock.
        let Ok(kind) = std::fs::read(&mark) else {
            continue;
        };
        let dir = |layer: &Path| Layer {
            dir: layer.to_owned(),
            upper: layer.join("upper"),
            work: layer.join("work"),
            started: (0, 0),
            disk: None,
        };
        if kind == b"disk" {
            let _ = dir(&layer).remove();
            out.push(Recovered::Lost { layer, workdir });
            continue;
        }
        match commit(&workdir, &layer.join("upper")) {
            Ok(()) => {
                dir(&layer).remove()?;
                out.push(Recovered::Finished { layer, workdir });
            }
            Err(e) => out.push(Recovered::Failed {
                layer,
                workdir,
                why: e.to_string(),
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_escape_separators() {
        let o = mount_options(
            Path::new("/w,x"),
            Path::new("/s/u:p"),
            Path::new("/s\\w"),
            true,
        );
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "lowerdir=/w\\,x,upperdir=/s/u\\:p,workdir=/s\\\\w,userxattr"
        );
        let o = mount_options(Path::new("/a"), Path::new("/b"), Path::new("/c"), false);
        assert_eq!(o, b"lowerdir=/a,upperdir=/b,workdir=/c");
    }
}
