//! `--chroot`, child side: the new root made a mount point, its `/proc`, `/dev` and `/tmp`
//! mounted, then `pivot_root` into it with the old root detached (not chroot(2), which
//! a second chroot escapes). Runs in the command's mount namespace after the other view
//! mounts (an overlay on the root or beneath it, `--fs-mount`s, `--fs-deny`s) and before
//! the Landlock rules, which name paths of the new root.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::mount::MountFlags;

use crate::policy::root::{Root, DEVICES};

/// The new root's `/dev`.
#[derive(Debug)]
struct Dev {
    /// `DIR/dev`.
    dir: CString,
    /// (host device, file in `DIR/dev`) for each of [`DEVICES`] the host has.
    files: Vec<(CString, CString)>,
    /// (target, link in `DIR/dev`).
    links: Vec<(CString, CString)>,
    /// `--fs-mount`s beneath /dev: (host, `DIR/dev/...`, directory, read-only flags),
    /// their parents made in the tmpfs.
    binds: Vec<(CString, CString, bool, Option<MountFlags>)>,
    /// Directories to make in the tmpfs first (parents of `binds`), in order.
    dirs: Vec<CString>,
    /// The terminal: (host pty slave, `DIR/dev/pts`, the file in it).
    terminal: Option<(CString, CString, CString)>,
}

/// Everything the child needs to enter the new root, allocated before fork.
#[derive(Debug)]
pub struct RootPlan {
    dir: CString,
    /// `DIR/proc`, with the flags of its read-only remount, when DIR has /proc.
    proc: Option<(CString, MountFlags)>,
    dev: Option<Dev>,
    /// `DIR/tmp`.
    tmp: Option<CString>,
    /// Empty tmpfs mounts: (`DIR/path`, options, beneath `/dev`).
    tmpfs: Vec<(CString, CString, bool)>,
    /// `DIR/sys`, with the flags of its read-only remount, for the host's /sys.
    sys: Option<(CString, MountFlags)>,
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

impl RootPlan {
    pub fn new(root: &Root, mounts: &[crate::policy::view::Mounted]) -> io::Result<RootPlan> {
        let at = |name: &str| cstring(&root.dir.join(name));
        let proc = match root.has_dir("proc") {
            true => Some((at("proc")?, read_only_flags(Path::new("/proc")))),
            false => None,
        };
        let dev = match root.has_dir("dev") {
            true => {
                let mut files = Vec::new();
                for name in DEVICES {
                    let host = Path::new("/dev").join(name);
                    if host.exists() {
                        files.push((cstring(&host)?, at(&format!("dev/{name}"))?));
                    }
                }
                let mut links = Vec::new();
                for (name, target) in [
                    ("fd", "/proc/self/fd"),
                    ("stdin", "/proc/self/fd/0"),
                    ("stdout", "/proc/self/fd/1"),
                    ("stderr", "/proc/self/fd/2"),
                ] {
                    links.push((cstring(Path::new(target))?, at(&format!("dev/{name}"))?));
                }
                let terminal = match &root.terminal {
                    Some(tty) => {
                        let rel = tty.strip_prefix("/").unwrap_or(tty);
                        Some((cstring(tty)?, at("dev/pts")?, cstring(&root.dir.join(rel))?))
                    }
                    None => None,
                };
                let mut binds = Vec::new();
                let mut dirs: Vec<CString> = Vec::new();
                let dev = root.dir.join("dev");
                for m in mounts.iter().filter(|m| m.in_dev) {
                    let mut parent = m.at.parent();
                    let mut chain = Vec::new();
                    while let Some(p) = parent.filter(|p| *p != dev && p.starts_with(&dev)) {
                        chain.push(cstring(p)?);
                        parent = p.parent();
                    }
                    for d in chain.into_iter().rev() {
                        if !dirs.contains(&d) {
                            dirs.push(d);
                        }
                    }
                    let ro = m.read_only.then(|| read_only_flags(&m.host));
                    binds.push((cstring(&m.host)?, cstring(&m.at)?, m.dir, ro));
                }
                Some(Dev {
                    dir: at("dev")?,
                    files,
                    links,
                    terminal,
                    binds,
                    dirs,
                })
            }
            false => None,
        };
        let tmp = match root.has_dir("tmp") {
            true => Some(at("tmp")?),
            false => None,
        };
        let mut tmpfs = Vec::new();
        for (path, options) in &root.tmpfs {
            let rel = path.strip_prefix("/").unwrap_or(path);
            let options = CString::new(options.as_bytes())
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            tmpfs.push((
                cstring(&root.dir.join(rel))?,
                options,
                path.starts_with("/dev"),
            ));
        }
        let sys = match root.sysfs && root.has_dir("sys") {
            true => Some((at("sys")?, read_only_flags(Path::new("/sys")))),
            false => None,
        };
        Ok(RootPlan {
            dir: cstring(&root.dir)?,
            proc,
            dev,
            tmp,
            tmpfs,
            sys,
        })
    }

    /// In the child: the root bound on itself (with everything mounted beneath it), so
    /// that it is a mount point.
    pub fn bind_root(&self) -> io::Result<()> {
        rustix::mount::mount_bind_recursive(self.dir.as_c_str(), self.dir.as_c_str())?;
        Ok(())
    }

    /// In the child, once every other mount of the view is made: `/proc`, `/dev`, `/tmp`
    /// (and an OCI container's tmpfs mounts and `/sys`) mounted in the new root, then
    /// pivot into it; the working directory is `/`.
    /// Allocates nothing.
    pub fn enter(&self) -> io::Result<()> {
        if let Some((proc, flags)) = &self.proc {
            rustix::mount::mount_bind_recursive(c"/proc", proc.as_c_str())?;
            rustix::mount::mount_remount(proc.as_c_str(), *flags | MountFlags::BIND, c"")?;
        }
        if let Some(Dev {
            dir: dev,
            files,
            links,
            terminal,
            binds,
            dirs,
        }) = &self.dev
        {
            let flags = MountFlags::NOSUID | MountFlags::NOEXEC;
            let options = Some(c"mode=0755,size=64k");
            rustix::mount::mount(c"tmpfs", dev.as_c_str(), c"tmpfs", flags, options)?;
            for (host, file) in files {
                bind_device(host, file)?;
            }
            for (target, link) in links {
                rustix::fs::symlink(target.as_c_str(), link.as_c_str())?;
            }
            if let Some((host, pts, file)) = terminal {
                rustix::fs::mkdir(pts.as_c_str(), Mode::from(0o755))?;
                bind_device(host, file)?;
            }
            for (at, _, in_dev) in &self.tmpfs {
                if *in_dev {
                    rustix::fs::mkdir(at.as_c_str(), Mode::from(0o755))?;
                }
            }
            for d in dirs {
                rustix::fs::mkdir(d.as_c_str(), Mode::from(0o755))?;
            }
            for (_, at, dir, _) in binds {
                match dir {
                    true => rustix::fs::mkdir(at.as_c_str(), Mode::from(0o755))?,
                    false => drop(rustix::fs::open(
                        at.as_c_str(),
                        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC,
                        Mode::RUSR | Mode::WUSR,
                    )?),
                }
            }
            rustix::mount::mount_remount(dev.as_c_str(), flags | MountFlags::RDONLY, c"")?;
            for (host, at, _, read_only) in binds {
                rustix::mount::mount_bind_recursive(host.as_c_str(), at.as_c_str())?;
                if let Some(ro) = read_only {
                    rustix::mount::mount_remount(at.as_c_str(), *ro | MountFlags::BIND, c"")?;
                }
            }
        }
        for (at, options, _) in &self.tmpfs {
            let flags = MountFlags::NOSUID | MountFlags::NODEV;
            rustix::mount::mount(
                c"tmpfs",
                at.as_c_str(),
                c"tmpfs",
                flags,
                Some(options.as_c_str()),
            )?;
        }
        if let Some((sys, flags)) = &self.sys {
            rustix::mount::mount_bind_recursive(c"/sys", sys.as_c_str())?;
            rustix::mount::mount_remount(sys.as_c_str(), *flags | MountFlags::BIND, c"")?;
        }
        if let Some(tmp) = &self.tmp {
            let flags = MountFlags::NOSUID | MountFlags::NODEV;
            let options = Some(c"mode=1777");
            rustix::mount::mount(c"tmpfs", tmp.as_c_str(), c"tmpfs", flags, options)?;
        }
        // pivot_root(".", "."): the old root ends up mounted on top of the new one,
        // where it is detached; nothing of the host stays reachable.
        rustix::process::chdir(self.dir.as_c_str())?;
        rustix::process::pivot_root(c".", c".")?;
        rustix::mount::unmount(c".", rustix::mount::UnmountFlags::DETACH)?;
        rustix::process::chdir(c"/")?;
        Ok(())
    }
}

/// Binds the host's device file `host` on a new empty file `file` (allocates nothing).
fn bind_device(host: &CString, file: &CString) -> io::Result<()> {
    let made = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC;
    drop(rustix::fs::open(
        file.as_c_str(),
        made,
        Mode::RUSR | Mode::WUSR,
    )?);
    rustix::mount::mount_bind(host.as_c_str(), file.as_c_str())?;
    Ok(())
}

/// The flags of a read-only remount of a bind of `host`: read-only plus those of its
/// mount that a user namespace may not drop (nosuid, nodev, noexec, the atime ones).
pub fn read_only_flags(host: &Path) -> rustix::mount::MountFlags {
    use rustix::fs::StatVfsMountFlags as V;
    use rustix::mount::MountFlags as M;
    let mut flags = M::RDONLY;
    if let Ok(st) = rustix::fs::statvfs(host) {
        for (has, keep) in [
            (V::NOSUID, M::NOSUID),
            (V::NODEV, M::NODEV),
            (V::NOEXEC, M::NOEXEC),
            (V::NOATIME, M::NOATIME),
            (V::NODIRATIME, M::NODIRATIME),
            (V::RELATIME, M::RELATIME),
        ] {
            if st.f_flag.contains(has) {
                flags |= keep;
            }
        }
    }
    flags
}
