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
use std::fmt;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::policy::view::{Denied, Finish, View};

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
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

impl ViewPlan {
    pub fn new(
        view: Option<(&View, &Layer)>,
        deny: &[Denied],
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
        let beneath =
            covered.any(|p| real.starts_with(p)) || deny.iter().any(|d| real.starts_with(&d.path));
        let cwd = match beneath {
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
            cwd,
            rules: rules
                .iter()
                .map(|(p, rights)| Ok((cstring(p.as_os_str().as_bytes())?, *rights)))
                .collect::<io::Result<_>>()?,
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
    /// namespace is gone); overlayfs over the workdir; the Landlock rules beneath it
    /// added to `ruleset`; the `--fs-deny` paths covered; then the working directory
    /// entered again (it may lie in the workdir). Allocates nothing.
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
        if let Some(ruleset) = ruleset {
            for (path, rights) in &self.rules {
                crate::landlock::add_path_rule(ruleset, path.as_c_str(), *rights)?;
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
    let mut conflicts = Vec::new();
    for change in changes(workdir, &layer.changes_dir())? {
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

/// What a change did to a path of the workdir.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
/// file, link and FIFO written under a temporary name in its directory, synced and
/// renamed into place, with its mode, times and (as root) owner.
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
