//! The profile `sandlet learn` writes from what a run did: its command, a read rule for
//! what it read or executed and a write rule for what it wrote, made or removed, with
//! sensible collapsing. A directory replaces its entries when at least [`COLLAPSE`] of
//! them were used, except `/`, the home directory and credential directories (those are
//! never granted whole); files in credential directories (and credential files in the
//! home directory) are left out and reported, to be added by hand if meant. Anything
//! beneath /proc becomes `/proc` (the supervisor's /proc view: a pid-specific path
//! would not match the next run). Paths that no longer exist are left out (Landlock
//! rules need existing paths; a file made and removed is covered by its directory).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::toml::quote;

/// How many used entries make a directory stand for them.
pub const COLLAPSE: usize = 4;

/// Directories beneath the home directory that hold credentials.
const CREDENTIAL_DIRS: &[&str] = &[
    ".ssh",
    ".aws",
    ".gnupg",
    ".kube",
    ".docker",
    ".azure",
    ".config/gcloud",
    ".password-store",
];
/// Files in the home directory that hold credentials.
const CREDENTIAL_FILES: &[&str] = &[".netrc", ".git-credentials", ".pgpass", ".npmrc", ".pypirc"];

/// What a learning run recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// (path, written): a path both read and written appears as written.
    pub uses: Vec<(PathBuf, bool)>,
    /// Connects, as `--net-allow` rules (`tcp://IP:PORT`).
    pub connects: Vec<String>,
    /// Ports bound.
    pub binds: Vec<u16>,
    /// The most processes at once.
    pub peak_processes: Option<u32>,
}

/// A written profile and what was left out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learned {
    pub text: String,
    /// Credential files the command used, not granted.
    pub withheld: Vec<PathBuf>,
}

/// The profile for `command` from what `record` holds; `home` is the user's home
/// directory. The process limit is the peak plus half again (at least 2 more): the
/// same command forks a little differently each run.
pub fn profile(
    record: &Record,
    command: &[String],
    home: Option<&Path>,
    exists: &dyn Fn(&Path) -> bool,
) -> Learned {
    let credential = |p: &Path| match home {
        Some(h) => {
            CREDENTIAL_DIRS.iter().any(|d| p.starts_with(h.join(d)))
                || CREDENTIAL_FILES.iter().any(|f| p == h.join(f))
        }
        None => false,
    };
    let mut forbidden: BTreeSet<PathBuf> = [PathBuf::from("/")].into();
    if let Some(h) = home {
        forbidden.insert(h.to_owned());
        forbidden.extend(CREDENTIAL_DIRS.iter().map(|d| h.join(d)));
    }
    let mut reads = BTreeSet::new();
    let mut writes = BTreeSet::new();
    let mut withheld = BTreeSet::new();
    for (path, written) in &record.uses {
        let path = if path.starts_with("/proc") {
            PathBuf::from("/proc")
        } else {
            path.clone()
        };
        if credential(&path) {
            withheld.insert(path);
            continue;
        }
        if !exists(&path) {
            continue;
        }
        if *written {
            writes.insert(path);
        } else {
            reads.insert(path);
        }
    }
    let writes = collapse(writes, &forbidden);
    let reads: BTreeSet<PathBuf> = collapse(reads, &forbidden)
        .into_iter()
        .filter(|r| !writes.iter().any(|w| r.starts_with(w)))
        .collect();
    let list = |set: &BTreeSet<PathBuf>| {
        let items: Vec<String> = set
            .iter()
            .map(|p| format!("  {},", quote(&p.to_string_lossy())))
            .collect();
        if items.is_empty() {
            "[]".to_owned()
        } else {
            format!("[\n{}\n]", items.join("\n"))
        }
    };
    let mut text =
        String::from("# Written by `sandlet learn`: what this command used in one run.\n");
    text.push_str("# Review it before use; run it with `sandlet run --profile-file FILE`.\n");
    if !withheld.is_empty() {
        text.push_str("# Credential files it used are not granted:\n");
        for w in &withheld {
            text.push_str(&format!("#   {}\n", w.display()));
        }
    }
    if let Some((exec, args)) = command.split_first() {
        text.push_str("\n[program]\n");
        text.push_str(&format!("exec = {}\n", quote(exec)));
        let args: Vec<String> = args.iter().map(|a| quote(a)).collect();
        text.push_str(&format!("args = [{}]\n", args.join(", ")));
    }
    text.push_str("\n[filesystem]\n");
    text.push_str(&format!("read = {}\n", list(&reads)));
    text.push_str(&format!("write = {}\n", list(&writes)));
    if !record.connects.is_empty() || !record.binds.is_empty() {
        text.push_str("\n[network]\n");
        let rules: Vec<String> = record.connects.iter().map(|r| quote(r)).collect();
        if !rules.is_empty() {
            text.push_str(&format!("allow = [{}]\n", rules.join(", ")));
        }
        let ports: Vec<String> = record.binds.iter().map(u16::to_string).collect();
        if !ports.is_empty() {
            text.push_str(&format!("allow_bind = [{}]\n", ports.join(", ")));
        }
    }
    if let Some(peak) = record.peak_processes {
        text.push_str("\n[limits]\n");
        text.push_str(&format!("# the run had at most {peak} processes at once\n"));
        text.push_str(&format!("processes = {}\n", peak + (peak / 2).max(2)));
    }
    Learned {
        text,
        withheld: withheld.into_iter().collect(),
    }
}

/// Replaces the entries of a directory by the directory when at least [`COLLAPSE`] of
/// them are in `set` (never a `forbidden` one), until nothing changes; then drops what
/// another entry covers.
fn collapse(mut set: BTreeSet<PathBuf>, forbidden: &BTreeSet<PathBuf>) -> BTreeSet<PathBuf> {
    loop {
        let mut children: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
        for p in &set {
            if let Some(parent) = p.parent() {
                children
                    .entry(parent.to_owned())
                    .or_default()
                    .push(p.clone());
            }
        }
        let Some((dir, kids)) = children
            .into_iter()
            .find(|(dir, kids)| kids.len() >= COLLAPSE && !forbidden.contains(dir))
        else {
            break;
        };
        for k in kids {
            set.remove(&k);
        }
        set.insert(dir);
    }
    let all = set.clone();
    set.retain(|p| !all.iter().any(|q| q != p && p.starts_with(q)));
    set
}
