//! A sandboxed process's credentials, and the access checks the kernel would make with
//! them. Work the supervisor does on a command's behalf runs with sandlet's credentials
//! (often root, all capabilities); what it hands back must be no more than the command
//! could get itself (hazard 17). These are the kernel's rules, restated: discretionary
//! access (`generic_permission`) and `ptrace_may_access` with Yama.

/// `CAP_DAC_OVERRIDE`.
pub const CAP_DAC_OVERRIDE: u32 = 1;
/// `CAP_DAC_READ_SEARCH`.
pub const CAP_DAC_READ_SEARCH: u32 = 2;
/// `CAP_SYS_PTRACE`.
pub const CAP_SYS_PTRACE: u32 = 19;
/// `CAP_SYS_ADMIN`.
pub const CAP_SYS_ADMIN: u32 = 21;

/// User and group ids (real, effective, saved, filesystem), groups and effective
/// capabilities of a thread, as `/proc/TID/status` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub groups: Vec<u32>,
    pub cap_eff: u64,
}

/// How `/proc/PID/...` access to another process is checked
/// (`PTRACE_MODE_READ` or `PTRACE_MODE_ATTACH`, both with filesystem credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inspect {
    Read,
    Attach,
}

impl Creds {
    /// The credentials of thread `tid`; `None` when it is gone.
    pub fn of(tid: u32) -> Option<Creds> {
        Creds::parse(&std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?)
    }

    /// Parses the `Uid:`, `Gid:`, `Groups:` and `CapEff:` lines of a status text.
    pub fn parse(status: &str) -> Option<Creds> {
        let field = |key: &str| status.lines().find_map(|l| l.strip_prefix(key));
        let ids = |key: &str| -> Option<[u32; 4]> {
            let v: Vec<u32> = field(key)?
                .split_ascii_whitespace()
                .map(|x| x.parse().ok())
                .collect::<Option<_>>()?;
            v.try_into().ok()
        };
        Some(Creds {
            uid: ids("Uid:")?,
            gid: ids("Gid:")?,
            groups: field("Groups:")?
                .split_ascii_whitespace()
                .map(|x| x.parse().ok())
                .collect::<Option<_>>()?,
            cap_eff: u64::from_str_radix(field("CapEff:")?.trim(), 16).ok()?,
        })
    }

    /// Whether `cap` is in the effective set.
    pub fn has(&self, cap: u32) -> bool {
        cap < 64 && self.cap_eff & (1 << cap) != 0
    }

    fn fsuid(&self) -> u32 {
        self.uid[3]
    }

    fn fsgid(&self) -> u32 {
        self.gid[3]
    }

    /// Whether these credentials may open for reading a file with permission bits
    /// `mode` owned by `uid`:`gid` (`generic_permission` with `MAY_READ`).
    pub fn may_read(&self, mode: u32, uid: u32, gid: u32) -> bool {
        let bits = if self.fsuid() == uid {
            mode >> 6
        } else if self.fsgid() == gid || self.groups.contains(&gid) {
            mode >> 3
        } else {
            mode
        };
        bits & 0o4 != 0 || self.has(CAP_DAC_OVERRIDE) || self.has(CAP_DAC_READ_SEARCH)
    }

    /// Whether these credentials may inspect a process with credentials `target`
    /// through /proc (`ptrace_may_access` with `PTRACE_MODE_FSCREDS`): the same user and
    /// group in all three ids, or `CAP_SYS_PTRACE`; for `Attach`, also what Yama's
    /// `scope` allows (`descendant`: the target descends from the inspector).
    pub fn may_inspect(&self, target: &Creds, how: Inspect, scope: u32, descendant: bool) -> bool {
        let privileged = self.has(CAP_SYS_PTRACE);
        let same = target.uid[..3].iter().all(|&u| u == self.fsuid())
            && target.gid[..3].iter().all(|&g| g == self.fsgid());
        if !(same || privileged) {
            return false;
        }
        match (how, scope) {
            (Inspect::Read, _) | (Inspect::Attach, 0) => true,
            (Inspect::Attach, 1) => descendant || privileged,
            (Inspect::Attach, 2) => privileged,
            _ => false,
        }
    }
}

/// Yama's `ptrace_scope` (0 when Yama is not there).
pub fn yama_scope() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tsh\nTgid:\t7\nUid:\t1000\t1000\t1000\t1000\n\
                          Gid:\t100\t100\t100\t100\nGroups:\t100 27 \nCapEff:\t0000000000000000\n";

    fn user() -> Creds {
        Creds::parse(STATUS).unwrap()
    }

    #[test]
    fn parses_status() {
        let c = user();
        assert_eq!(c.uid, [1000; 4]);
        assert_eq!(c.gid, [100; 4]);
        assert_eq!(c.groups, [100, 27]);
        assert!(!c.has(CAP_SYS_ADMIN));
        let root = STATUS
            .replace("1000", "0")
            .replace("0000000000000000", "000001ffffffffff");
        assert!(Creds::parse(&root).unwrap().has(CAP_SYS_ADMIN));
        assert_eq!(Creds::parse("Uid:\t1\t2\n"), None);
        let no_groups = STATUS.replace("Groups:\t100 27 ", "Groups:\t");
        assert_eq!(Creds::parse(&no_groups).unwrap().groups, Vec::<u32>::new());
    }

    #[test]
    fn discretionary_read() {
        let c = user();
        assert!(c.may_read(0o400, 1000, 0));
        assert!(
            !c.may_read(0o040, 1000, 100),
            "owner bits decide for the owner"
        );
        assert!(c.may_read(0o040, 0, 27), "a supplementary group");
        assert!(!c.may_read(0o400, 0, 0));
        assert!(c.may_read(0o444, 0, 0));
        let mut dac = user();
        dac.cap_eff = 1 << CAP_DAC_READ_SEARCH;
        assert!(dac.may_read(0o000, 0, 0));
        // Root without capabilities is only the owner of root's files.
        let root = Creds::parse(&STATUS.replace("1000", "0").replace("100", "0")).unwrap();
        assert!(root.may_read(0o400, 0, 0));
        assert!(!root.may_read(0o400, 5, 5));
    }

    #[test]
    fn inspection_follows_ptrace_rules() {
        let me = user();
        let peer = user();
        let other = Creds::parse(&STATUS.replace("1000", "1001")).unwrap();
        assert!(me.may_inspect(&peer, Inspect::Read, 0, false));
        assert!(!me.may_inspect(&other, Inspect::Read, 0, false));
        // A set-id process (saved uid differs) is not the caller's.
        let setid =
            Creds::parse(&STATUS.replace("1000\t1000\t1000\t1000", "1000\t1000\t0\t1000")).unwrap();
        assert!(!me.may_inspect(&setid, Inspect::Read, 0, false));
        assert!(me.may_inspect(&peer, Inspect::Attach, 0, false));
        assert!(me.may_inspect(&peer, Inspect::Attach, 1, true));
        assert!(!me.may_inspect(&peer, Inspect::Attach, 1, false));
        assert!(!me.may_inspect(&peer, Inspect::Attach, 2, true));
        assert!(!me.may_inspect(&peer, Inspect::Attach, 3, true));
        let mut tracer = user();
        tracer.cap_eff = 1 << CAP_SYS_PTRACE;
        assert!(tracer.may_inspect(&other, Inspect::Attach, 2, false));
        assert!(!tracer.may_inspect(&other, Inspect::Attach, 3, false));
    }
}
