//! Filesystem rules: what `-r`/`-w` grant, the built-in default, and the rules actually
//! given to Landlock (sensitive host paths and, with the /proc view, /proc carved out).

use std::path::{Path, PathBuf};

/// Read-execute paths of the built-in filesystem policy (those that exist).
pub const DEFAULT_READ: &[&str] = &["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc"];
/// Read-write paths of the built-in filesystem policy (those that exist).
pub const DEFAULT_WRITE: &[&str] = &["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"];
/// Harmless devices every run may read and write (those that exist), added to explicit
/// rules too unless `--no-default-devices`: `2>/dev/null` works everywhere.
pub const ALWAYS_WRITE: &[&str] = &["/dev/null", "/dev/zero", "/dev/full"];

/// What a filesystem rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsAccess {
    Read,
    Write,
}

/// Access beneath one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsRule {
    pub path: PathBuf,
    pub access: FsAccess,
}

/// [`ALWAYS_WRITE`] as rules, for those that exist and no rule of `rules` names.
pub fn default_devices(rules: &[FsRule], exists: &dyn Fn(&Path) -> bool) -> Vec<FsRule> {
    ALWAYS_WRITE
        .iter()
        .map(PathBuf::from)
        .filter(|p| exists(p) && !rules.iter().any(|r| r.path == *p))
        .map(|path| FsRule {
            path,
            access: FsAccess::Write,
        })
        .collect()
}

/// The built-in rules (those of [`DEFAULT_READ`] and [`DEFAULT_WRITE`] that exist), used
/// when a spec names no path at all.
pub fn default_fs(exists: &dyn Fn(&Path) -> bool) -> Vec<FsRule> {
    let rules = |paths: &[&str], access| -> Vec<FsRule> {
        paths
            .iter()
            .filter(|p| exists(Path::new(p)))
            .map(|p| FsRule {
                path: PathBuf::from(p),
                access,
            })
            .collect()
    };
    let mut fs = rules(DEFAULT_READ, FsAccess::Read);
    fs.extend(rules(DEFAULT_WRITE, FsAccess::Write));
    fs
}

/// Where the proc file system is.
pub const PROC: &str = "/proc";

/// Host paths no broad rule reaches: a rule on one of their ancestors is split into its
/// other children (rules naming them, or paths beneath them, still apply).
pub const SENSITIVE: &[&str] = &["/sys/firmware", "/sys/kernel/security"];

/// The rules given to Landlock: `rules` with every [`SENSITIVE`] path carved out of its
/// ancestors' rules, and with the proc view also /proc (rules on or beneath it dropped:
/// the supervisor serves it). `list` gives a directory's entries.
pub fn landlock_rules(
    rules: &[FsRule],
    proc_view: bool,
    list: &dyn Fn(&Path) -> Vec<PathBuf>,
) -> Vec<FsRule> {
    let mut out = rules.to_vec();
    for hole in SENSITIVE {
        out = carve(out, Path::new(hole), false, list);
    }
    if proc_view {
        out = carve(out, Path::new(PROC), true, list);
    }
    out
}

/// Directories that lost their own rule to [`landlock_rules`]' carving: strict
/// ancestors of a hole that a rule covered. The /proc view serves read-only opens of
/// exactly these (so `ls /` still works under `-r /`).
pub fn carved_dirs(rules: &[FsRule], proc_view: bool) -> Vec<PathBuf> {
    let mut holes: Vec<&str> = SENSITIVE.to_vec();
    if proc_view {
        holes.push(PROC);
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for hole in holes {
        for dir in Path::new(hole).ancestors().skip(1) {
            let covered = rules.iter().any(|r| dir.starts_with(&r.path));
            if covered && !out.iter().any(|d| d == dir) {
                out.push(dir.to_owned());
            }
        }
    }
    super::parse::sort_unique(&mut out);
    out
}

/// Replaces each rule on a strict ancestor of `hole` by rules on the ancestor's other
/// children, down to `hole`'s parent; with `drop_inside`, rules on or beneath `hole`
/// go too.
fn carve(
    rules: Vec<FsRule>,
    hole: &Path,
    drop_inside: bool,
    list: &dyn Fn(&Path) -> Vec<PathBuf>,
) -> Vec<FsRule> {
    let mut out = Vec::new();
    for rule in rules {
        if rule.path.starts_with(hole) {
            if !drop_inside {
                out.push(rule);
            }
            continue;
        }
        if !hole.starts_with(&rule.path) {
            out.push(rule);
            continue;
        }
        // rule.path is a strict ancestor: walk down towards the hole.
        let mut dir = rule.path.clone();
        for part in hole
            .strip_prefix(&rule.path)
            .into_iter()
            .flat_map(Path::components)
        {
            let next = dir.join(part);
            for child in list(&dir) {
                if child != next {
                    out.push(FsRule {
                        path: child,
                        access: rule.access,
                    });
                }
            }
            dir = next;
        }
    }
    out
}

/// The entries of `dir` that exist (dangling symlinks left out), for [`landlock_rules`].
pub fn list_dir(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.exists())
        .collect();
    super::parse::sort_unique(&mut out);
    out
}

/// Whether a rule of `rules` covers `path` (so the command could open it itself).
pub fn covers(rules: &[FsRule], path: &str) -> bool {
    rules.iter().any(|r| Path::new(path).starts_with(&r.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carving_keeps_holes_out_of_broad_rules() {
        let tree = |d: &Path| -> Vec<PathBuf> {
            let names: &[&str] = match d.to_str().unwrap() {
                "/" => &["/bin", "/proc", "/sys", "/usr"],
                "/sys" => &["/sys/class", "/sys/firmware", "/sys/kernel"],
                "/sys/kernel" => &["/sys/kernel/mm", "/sys/kernel/security"],
                _ => &[],
            };
            names.iter().map(PathBuf::from).collect()
        };
        let rule = |p: &str, access| FsRule {
            path: p.into(),
            access,
        };
        let paths = |rules: Vec<FsRule>| -> Vec<String> {
            rules.iter().map(|r| r.path.display().to_string()).collect()
        };
        let root = [rule("/", FsAccess::Read)];
        assert_eq!(
            paths(landlock_rules(&root, true, &tree)),
            ["/bin", "/usr", "/sys/class", "/sys/kernel/mm"]
        );
        // Without the proc view /proc stays; a rule naming a sensitive path stays.
        let rules = [
            rule("/", FsAccess::Read),
            rule("/sys/firmware", FsAccess::Read),
            rule("/tmp", FsAccess::Write),
        ];
        assert_eq!(
            paths(landlock_rules(&rules, false, &tree)),
            [
                "/bin",
                "/proc",
                "/usr",
                "/sys/class",
                "/sys/kernel/mm",
                "/sys/firmware",
                "/tmp"
            ]
        );
        // With it, rules on or beneath /proc go; unrelated rules are untouched.
        let proc = [rule("/proc", FsAccess::Read), rule("/usr", FsAccess::Read)];
        assert_eq!(paths(landlock_rules(&proc, true, &tree)), ["/usr"]);
        let w = landlock_rules(&[rule("/sys", FsAccess::Write)], false, &tree);
        assert!(w.iter().all(|r| r.access == FsAccess::Write));
        let dirs = |rules: &[FsRule], view| -> Vec<String> {
            carved_dirs(rules, view)
                .iter()
                .map(|p| p.display().to_string())
                .collect()
        };
        assert_eq!(dirs(&root, true), ["/", "/sys", "/sys/kernel"]);
        assert_eq!(
            dirs(&[rule("/usr", FsAccess::Read)], true),
            Vec::<String>::new()
        );
        assert_eq!(
            dirs(&[rule("/sys", FsAccess::Read)], false),
            ["/sys", "/sys/kernel"]
        );
    }
}
