//! `sandlet check`: which kernel features this machine offers, as data.

use std::fmt;

use crate::landlock;
use crate::policy::protection::Protection;
use crate::seccomp::bpf::{SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF};
use crate::sys;

/// One feature and whether the kernel has it.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: &'static str,
    pub available: bool,
    /// What provides it (ABI / kernel version), for the reader.
    pub needs: String,
    /// Whether a default `sandlet run` needs it.
    pub required: bool,
}

/// The whole table.
#[derive(Debug, Clone)]
pub struct Report {
    pub kernel: String,
    pub landlock_abi: u32,
    pub rows: Vec<Row>,
}

impl Report {
    /// True when everything a default run needs is available.
    pub fn ok(&self) -> bool {
        self.rows.iter().all(|r| r.available || !r.required)
    }
}

/// (major, minor) of a kernel release string like `6.18.0-1-amd64`.
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The row whose absence changes what runs (see [`Report`]'s display).
const PIDFD_GETFD: &str = "pidfd_getfd";

/// Probes the running kernel.
pub fn probe() -> Report {
    let kernel = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    let version = kernel_version(&kernel).unwrap_or((0, 0));
    let abi = landlock::abi();
    let mut rows: Vec<Row> = Protection::ALL
        .iter()
        .map(|&p| Row {
            name: p.name(),
            available: abi >= p.min_abi(),
            needs: format!("Landlock ABI {}, Linux {}", p.min_abi(), p.kernel()),
            required: true,
        })
        .collect();
    rows.push(Row {
        name: "seccomp filter",
        available: sys::seccomp_action_available(SECCOMP_RET_ERRNO),
        needs: "Linux 3.5".into(),
        required: true,
    });
    rows.push(Row {
        name: "seccomp user notification",
        available: sys::seccomp_action_available(SECCOMP_RET_USER_NOTIF),
        needs: "Linux 5.0".into(),
        required: false,
    });
    rows.push(Row {
        name: "SYNC_WAKE_UP",
        available: version >= (6, 6),
        needs: "Linux 6.6 (by version)".into(),
        required: false,
    });
    rows.push(Row {
        name: "pidfd",
        available: rustix::process::pidfd_open(
            rustix::process::getpid(),
            rustix::process::PidfdFlags::empty(),
        )
        .is_ok(),
        needs: "Linux 5.3".into(),
        required: true,
    });
    rows.push(Row {
        name: "NOTIF_ADDFD + SEND",
        available: version >= (5, 14),
        needs: "Linux 5.14 (by version); served files, /proc view, --random-seed".into(),
        required: false,
    });
    rows.push(Row {
        name: "openat2",
        available: rustix::fs::openat2(
            rustix::fs::CWD,
            ".",
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
            rustix::fs::ResolveFlags::BENEATH,
        )
        .is_ok(),
        needs: "Linux 5.6; the /proc view".into(),
        required: false,
    });
    rows.push(Row {
        name: "vDSO patch (/proc/PID/mem)",
        available: cfg!(target_arch = "x86_64") && vdso_writable(),
        needs: "x86_64, writable /proc/PID/mem; --time-start".into(),
        required: false,
    });
    rows.push(Row {
        name: "process_vm_readv/writev",
        available: sys::vm_calls_available(),
        needs: "Linux 3.2, not refused by a container profile; else /proc/PID/mem is used".into(),
        required: false,
    });
    rows.push(Row {
        name: PIDFD_GETFD,
        available: sys::pidfd_getfd_available(),
        needs: "Linux 5.6, not refused by a container profile; UDP/ICMP rules, \
                --net-deny, --net-deny-bind, --port-remap, a dynamic policy, --deterministic-dirs, \
                the /proc view"
            .into(),
        required: false,
    });
    rows.push(Row {
        name: "NOTIF_ADDFD + SETFD",
        available: version >= (5, 9),
        needs: "Linux 5.9 (by version); connects where pidfd_getfd is refused".into(),
        required: false,
    });
    rows.push(Row {
        name: "ptrace",
        // A pid that cannot exist: ESRCH when the call is allowed, EPERM when a
        // profile refuses it.
        available: sys::ptrace_seize(i32::MAX, 0)
            .is_err_and(|e| e.raw_os_error() == Some(libc::ESRCH)),
        needs: "not refused by a container profile; --deny-exec, a dynamic policy, \
                UDP rules with threads"
            .into(),
        required: false,
    });
    rows.push(Row {
        name: "/proc/PID/mem",
        available: proc_mem_readable(),
        needs: "a mounted /proc; the caller's memory without process_vm_*".into(),
        required: false,
    });
    // Last: it moves this process into new namespaces.
    let root = rustix::process::geteuid().is_root();
    rows.push(Row {
        name: "user + mount namespace",
        available: version >= (5, 11) && sys::unshare_namespaces(!root).is_ok(),
        needs: "Linux 5.11, unprivileged user namespaces allowed; --workdir, --chroot, --image, --fs-mount, --fs-deny".into(),
        required: false,
    });
    Report {
        kernel,
        landlock_abi: abi,
        rows,
    }
}

/// Whether this process's memory can be read through /proc/self/mem.
fn proc_mem_readable() -> bool {
    use std::os::unix::fs::FileExt;
    static BYTE: [u8; 1] = [9];
    let mut got = [0u8; 1];
    std::fs::File::open("/proc/self/mem")
        .and_then(|f| f.read_at(&mut got, BYTE.as_ptr() as u64))
        .is_ok_and(|n| n == 1 && got[0] == 9)
}

/// Whether a read-only page of this process can be written through /proc/self/mem
/// (what the --time-start vDSO patch does to the command): the kernel's
/// `proc_mem.force_override` policy decides. Writes one read-only byte back unchanged
/// (the page becomes a private copy).
fn vdso_writable() -> bool {
    use std::os::unix::fs::FileExt;
    static READ_ONLY: [u8; 1] = [0x5a];
    let addr = READ_ONLY.as_ptr() as u64;
    let Ok(mem) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/proc/self/mem")
    else {
        return false;
    };
    let mut byte = [0u8];
    mem.read_exact_at(&mut byte, addr).is_ok() && mem.write_all_at(&byte, addr).is_ok()
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<28} {}", "kernel", self.kernel)?;
        writeln!(f, "{:<28} {}", "landlock ABI", self.landlock_abi)?;
        for r in &self.rows {
            let state = if r.available { "available" } else { "missing" };
            writeln!(f, "{:<28} {:<10} ({})", r.name, state, r.needs)?;
        }
        let verdict = if self.ok() {
            "ok: a default run is fully enforced"
        } else {
            "not ok: a default run needs --allow-degraded (see the missing rows)"
        };
        writeln!(f, "{verdict}")?;
        if self
            .rows
            .iter()
            .any(|r| r.name == PIDFD_GETFD && !r.available)
        {
            writeln!(
                f,
                "pidfd_getfd is refused here: UDP and ICMP rules, --net-deny, --net-deny-bind, \
                 --port-remap, a dynamic policy, --deterministic-dirs and the /proc view \
                 refuse to start; connects under address rules are made on new sockets \
                 (options set before connect are not carried over); give the container \
                 --cap-add SYS_PTRACE to have them all"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_versions() {
        assert_eq!(kernel_version("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(kernel_version("5.4.0"), Some((5, 4)));
        assert_eq!(kernel_version("6"), None);
        assert_eq!(kernel_version(""), None);
    }
}
