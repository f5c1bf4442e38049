//! Which syscalls a policy refuses: the default deny list, the named groups that
//! `--extra-deny-syscall` / `--extra-allow-syscall` take, and the final list of numbers.
//! Pure data over the build target's syscall table.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::parse::ParseError;
use crate::seccomp::names;

/// Syscalls refused with EPERM by default: they change the system, escape the sandbox
/// or reach kernel surface a confined command has no business with.
pub const DEFAULT_DENY: &[&str] = &[
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "swapon",
    "swapoff",
    "reboot",
    "sethostname",
    "setdomainname",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "unshare",
    "setns",
    "perf_event_open",
    "bpf",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "open_by_handle_at",
    "name_to_handle_at",
    "ioperm",
    "iopl",
    "quotactl",
    "quotactl_fd",
    "acct",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "fsopen",
    "fsmount",
    "fsconfig",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "lookup_dcookie",
    "vhangup",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
];

/// Named groups of syscalls for `--extra-deny-syscall` and `--extra-allow-syscall`.
/// Each group is denied by default unless its entry says otherwise.
pub const GROUPS: &[Group] = &[Group {
    name: "sysv_ipc",
    syscalls: &[
        "shmget",
        "shmat",
        "shmdt",
        "shmctl",
        "msgget",
        "msgsnd",
        "msgrcv",
        "msgctl",
        "semget",
        "semop",
        "semctl",
        "semtimedop",
        "ipc",
    ],
}];

/// A named set of syscalls (names missing on the build target are skipped).
#[derive(Debug, PartialEq, Eq)]
pub struct Group {
    pub name: &'static str,
    pub syscalls: &'static [&'static str],
}

/// The group called `name`.
pub fn group(name: &str) -> Option<&'static Group> {
    GROUPS.iter().find(|g| g.name == name)
}

/// Every group name, comma-separated, for messages.
pub fn group_names() -> String {
    GROUPS.iter().map(|g| g.name).collect::<Vec<_>>().join(", ")
}

/// Numbers of `names` that exist on the build target.
pub fn numbers<'a>(names: impl IntoIterator<Item = &'a str>) -> impl Iterator<Item = u32> {
    names.into_iter().filter_map(names::number)
}

/// What `--extra-deny-syscall` names: one syscall of the build target, or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syscalls {
    /// A syscall number of the build target.
    One(u32),
    /// A named group ([`GROUPS`]).
    Group(&'static Group),
}

impl Syscalls {
    /// The group or syscall called `name` (a group name wins).
    pub fn named(name: &str) -> Option<Syscalls> {
        group(name)
            .map(Syscalls::Group)
            .or_else(|| names::number(name).map(Syscalls::One))
    }

    fn numbers(self) -> Vec<u32> {
        match self {
            Syscalls::One(nr) => vec![nr],
            Syscalls::Group(g) => numbers(g.syscalls.iter().copied()).collect(),
        }
    }
}

impl FromStr for Syscalls {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Syscalls, ParseError> {
        Syscalls::named(s).ok_or_else(|| {
            ParseError(format!(
                "no such syscall on this architecture, and not a group (groups: {})",
                group_names()
            ))
        })
    }
}

impl fmt::Display for Syscalls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Syscalls::One(nr) => f.write_str(names::name(*nr).unwrap_or("?")),
            Syscalls::Group(g) => f.write_str(g.name),
        }
    }
}

/// The numbers refused with EPERM: the default list and every group not in `allowed`,
/// plus `extra` (an explicit deny wins over an allow). Sorted, unique.
pub fn deny_list(extra: &[Syscalls], allowed: &[&'static Group]) -> Vec<u32> {
    let mut deny: BTreeSet<u32> = numbers(DEFAULT_DENY.iter().copied()).collect();
    for g in GROUPS {
        if !allowed.iter().any(|a| a.name == g.name) {
            deny.extend(numbers(g.syscalls.iter().copied()));
        }
    }
    for s in extra {
        deny.extend(s.numbers());
    }
    deny.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_list_groups() {
        let shmget = names::number("shmget").unwrap();
        let mount = names::number("mount").unwrap();
        let getpid = names::number("getpid").unwrap();
        let sysv = group("sysv_ipc").unwrap();
        let d = deny_list(&[], &[]);
        assert!(d.contains(&shmget) && d.contains(&mount) && !d.contains(&getpid));
        let d = deny_list(&[Syscalls::named("getpid").unwrap()], &[sysv]);
        assert!(!d.contains(&shmget) && d.contains(&getpid));
        let d = deny_list(&[Syscalls::Group(sysv)], &[sysv]);
        assert!(d.contains(&shmget), "an explicit deny wins over an allow");
    }

    #[test]
    fn names_resolve() {
        assert_eq!("sysv_ipc".parse(), Ok(Syscalls::Group(&GROUPS[0])));
        let getpid: Syscalls = "getpid".parse().unwrap();
        assert_eq!(getpid.to_string(), "getpid");
        assert!("not_a_syscall".parse::<Syscalls>().is_err());
    }
}
