//! Landlock: turns a [`Policy`] into a ruleset fd before fork, negotiating the ABI.
//!
//! Each protection needs a minimum ABI. When the kernel is older, the protection is
//! either refused (setup error naming it and the kernel it needs) or, when
//! `--allow-degraded` names it, dropped with a warning and reported as data.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use log::debug;
use rustix::fs::{FileType, Mode, OFlags};

use crate::error::SetupError;
use crate::policy::protection::Protection;
use crate::policy::{FsAccess, Policy};
use crate::sys;

// Filesystem rights (linux/landlock.h), with the ABI that introduced them.
pub const FS_EXECUTE: u64 = 1 << 0;
pub const FS_WRITE_FILE: u64 = 1 << 1;
pub const FS_READ_FILE: u64 = 1 << 2;
pub const FS_READ_DIR: u64 = 1 << 3;
pub const FS_REMOVE_DIR: u64 = 1 << 4;
pub const FS_REMOVE_FILE: u64 = 1 << 5;
pub const FS_MAKE_CHAR: u64 = 1 << 6;
pub const FS_MAKE_DIR: u64 = 1 << 7;
pub const FS_MAKE_REG: u64 = 1 << 8;
pub const FS_MAKE_SOCK: u64 = 1 << 9;
pub const FS_MAKE_FIFO: u64 = 1 << 10;
pub const FS_MAKE_BLOCK: u64 = 1 << 11;
pub const FS_MAKE_SYM: u64 = 1 << 12;
pub const FS_REFER: u64 = 1 << 13; // ABI 2
pub const FS_TRUNCATE: u64 = 1 << 14; // ABI 3
pub const FS_IOCTL_DEV: u64 = 1 << 15; // ABI 5

const FS_ABI1: u64 = (1 << 13) - 1;

/// Rights that make sense on a non-directory; directory rights on a file are EINVAL.
pub const FS_FILE_RIGHTS: u64 =
    FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;

/// `--fs-read`: read and execute.
pub const FS_READ: u64 = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR;

/// `--fs-write`: read, execute, write, create, remove, rename, truncate, device ioctls.
pub const FS_WRITE: u64 = FS_READ
    | FS_WRITE_FILE
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_CHAR
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_MAKE_SOCK
    | FS_MAKE_FIFO
    | FS_MAKE_BLOCK
    | FS_MAKE_SYM
    | FS_REFER
    | FS_TRUNCATE
    | FS_IOCTL_DEV;

// Network rights (ABI 4) and scopes (ABI 6).
pub const NET_BIND_TCP: u64 = 1 << 0;
pub const NET_CONNECT_TCP: u64 = 1 << 1;
pub const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
pub const SCOPE_SIGNAL: u64 = 1 << 1;

/// Variable name that lowers the ABI sandlet believes the kernel has. It can only take
/// protections away, and each one taken away still needs `--allow-degraded`: it exists
/// so the degradation paths can be tested on a current kernel.
pub const ABI_CAP_ENV: &str = "SANDLET_LANDLOCK_ABI_MAX";

/// The Landlock ABI of the running kernel (0: none), capped by [`ABI_CAP_ENV`].
pub fn abi() -> u32 {
    let kernel = sys::landlock_abi().unwrap_or(0);
    match std::env::var(ABI_CAP_ENV).ok().and_then(|v| v.parse().ok()) {
        Some(cap) => kernel.min(cap),
        None => kernel,
    }
}

/// The filesystem rights Landlock ABI `abi` handles.
pub fn fs_rights(abi: u32) -> u64 {
    let mut rights = if abi >= 1 { FS_ABI1 } else { 0 };
    if abi >= 2 {
        rights |= FS_REFER;
    }
    if abi >= 3 {
        rights |= FS_TRUNCATE;
    }
    if abi >= 5 {
        rights |= FS_IOCTL_DEV;
    }
    rights
}

/// What Landlock enforces for this run.
#[derive(Debug)]
pub struct Ruleset {
    /// The ruleset to enforce in the child; `None` only when `fs` itself was degraded.
    pub fd: Option<OwnedFd>,
    /// Protections accepted as missing through `--allow-degraded`.
    pub degraded: Vec<Protection>,
    /// Rules at or beneath the `--workdir` or an `--fs-mount`, added by the child once
    /// the view is mounted (a rule on the host directory does not cover the view:
    /// Landlock ignores the hidden mount point): (canonical path, rights). An
    /// `--fs-mount` itself grants reading (and writing, unless read-only) its VIRTUAL.
    /// Under `--chroot`, every rule, as a path of the new root.
    pub in_view: Vec<(std::path::PathBuf, u64)>,
}

/// Builds the ruleset for `policy` on a kernel with Landlock ABI `abi`.
pub fn build(policy: &Policy, abi: u32) -> Result<Ruleset, SetupError> {
    let degraded: Vec<Protection> = Protection::ALL
        .into_iter()
        .filter(|p| abi < p.min_abi())
        .collect();
    let refused: Vec<Protection> = degraded
        .iter()
        .copied()
        .filter(|p| !policy.allow_degraded.contains(p))
        .collect();
    if !refused.is_empty() {
        return Err(SetupError::Unsupported {
            protections: refused,
            abi,
        });
    }
    if abi == 0 {
        return Ok(Ruleset {
            fd: None,
            degraded,
            in_view: Vec::new(),
        });
    }

    let handled_fs = fs_rights(abi);
    let mut attr = sys::LandlockRulesetAttr {
        handled_access_fs: handled_fs,
        ..Default::default()
    };
    if abi >= 4 {
        attr.handled_access_net = NET_CONNECT_TCP;
        if policy.bind_ports != crate::policy::parse::PortSet::Any {
            attr.handled_access_net |= NET_BIND_TCP;
        }
    }
    if abi >= 6 {
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL;
    }
    let step = |step| move |source| SetupError::Step { step, source };
    let ruleset = sys::landlock_create_ruleset(&attr).map_err(step("landlock_create_ruleset"))?;

    let rules = match &policy.root {
        Some(root) => {
            crate::policy::landlock_rules(&policy.fs, policy.proc_view, &|d| root.list(d))
        }
        None => {
            crate::policy::landlock_rules(&policy.fs, policy.proc_view, &crate::policy::list_dir)
        }
    };
    let mut in_view = Vec::new();
    for rule in &rules {
        let wanted = match rule.access {
            FsAccess::Read => FS_READ,
            FsAccess::Write => FS_WRITE,
        };
        // Under --chroot every rule names a path of the new root: all are added once
        // the root is in place.
        if policy.root.is_some() {
            in_view.push((rule.path.clone(), wanted & handled_fs));
            continue;
        }
        // Rules at or beneath a mounted path name what the command sees there: they
        // are added once the view is mounted.
        let mounted = policy.view.iter().map(|v| v.workdir.as_path());
        let mut mounted = mounted.chain(policy.fs_mounts.iter().map(|m| m.at.as_path()));
        let real = std::fs::canonicalize(&rule.path).unwrap_or_else(|_| rule.path.clone());
        if mounted.any(|at| real.starts_with(at)) {
            in_view.push((real, wanted & handled_fs));
            continue;
        }
        add_path(&ruleset, &rule.path, wanted & handled_fs)?;
    }
    for m in &policy.fs_mounts {
        let wanted = if m.read_only { FS_READ } else { FS_WRITE };
        let rights = if m.dir {
            wanted
        } else {
            wanted & FS_FILE_RIGHTS
        };
        in_view.push((m.seen.clone(), rights & handled_fs));
    }
    if attr.handled_access_net & NET_CONNECT_TCP != 0 {
        for port in policy.net.landlock_connect_ports() {
            sys::landlock_add_net_rule(ruleset.as_fd(), NET_CONNECT_TCP, port)
                .map_err(step("landlock_add_rule (connect port)"))?;
        }
    }
    if attr.handled_access_net & NET_BIND_TCP != 0 {
        for port in policy.bind_ports.ports() {
            sys::landlock_add_net_rule(ruleset.as_fd(), NET_BIND_TCP, port)
                .map_err(step("landlock_add_rule (bind port)"))?;
        }
    }
    debug!(
        "landlock ABI {abi}: fs {handled_fs:#x}, net {:#x}, scoped {:#x}",
        attr.handled_access_net, attr.scoped
    );
    Ok(Ruleset {
        fd: Some(ruleset),
        degraded,
        in_view,
    })
}

fn add_path(ruleset: &OwnedFd, path: &Path, wanted: u64) -> Result<(), SetupError> {
    let allowed =
        add_path_rule(ruleset.as_fd(), path, wanted).map_err(|source| SetupError::OpenPath {
            path: path.to_owned(),
            source,
        })?;
    debug!("landlock rule {allowed:#x} beneath {}", path.display());
    Ok(())
}

/// Adds the rule "`wanted` beneath `path`" (only the file rights when it is not a
/// directory) to `ruleset`; the rights given. Allocates nothing for a `&CStr` path, so
/// the child can use it.
pub fn add_path_rule<P: rustix::path::Arg>(
    ruleset: std::os::fd::BorrowedFd<'_>,
    path: P,
    wanted: u64,
) -> std::io::Result<u64> {
    let fd = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?;
    let st = rustix::fs::fstat(&fd)?;
    let allowed = if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        wanted
    } else {
        wanted & FS_FILE_RIGHTS
    };
    sys::landlock_add_path_rule(ruleset, allowed, fd.as_fd())?;
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_grow_with_abi() {
        assert_eq!(fs_rights(0), 0);
        assert_eq!(fs_rights(1), FS_ABI1);
        assert_eq!(fs_rights(2) & FS_REFER, FS_REFER);
        assert_eq!(fs_rights(3) & FS_TRUNCATE, FS_TRUNCATE);
        assert_eq!(fs_rights(4), fs_rights(3));
        assert_eq!(fs_rights(5) & FS_IOCTL_DEV, FS_IOCTL_DEV);
        assert_eq!(FS_WRITE & !fs_rights(7), 0);
    }

    #[test]
    fn protection_names_round_trip() {
        for p in Protection::ALL {
            assert_eq!(Protection::from_name(p.name()), Some(p));
        }
        assert_eq!(Protection::from_name("nope"), None);
    }
}
