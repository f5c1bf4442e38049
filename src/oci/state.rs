//! A container's state under the runtime's root: `ROOT/ID/state.json` (id, init pid and
//! its start time, bundle, rootfs, creation time, annotations), `start.sock` while it is
//! created, `workload` (the command's pid) once it runs, `exec/PID` for each detached
//! exec. Status is derived: init gone -> stopped; start socket there -> created; else
//! running.

use std::path::{Path, PathBuf};

use super::error::{context, fail, OciError};
use crate::json::{self, Value};

/// What `state.json` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub id: String,
    /// The init's pid (0 until `create` has it).
    pub pid: u32,
    /// The init's start time (clock ticks after boot), so a reused pid is not taken
    /// for it.
    pub started: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339.
    pub created: String,
    pub annotations: Vec<(String, String)>,
}

fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

pub fn start_socket(root: &Path, id: &str) -> PathBuf {
    dir(root, id).join("start.sock")
}

/// The start socket as a path short enough for `sun_path` (108 bytes) whatever the
/// root and id: this process moves into the container's directory and names it
/// relatively (for `init` and `start`, whose working directory matters no more).
pub fn start_socket_here(root: &Path, id: &str) -> Result<PathBuf, OciError> {
    context(
        std::env::set_current_dir(dir(root, id)),
        "enter the container's directory",
    )?;
    Ok(PathBuf::from("start.sock"))
}

pub fn workload_file(root: &Path, id: &str) -> PathBuf {
    dir(root, id).join("workload")
}

/// A new path in the container's state directory for a copy of an exec's process.
pub fn process_copy(root: &Path, id: &str) -> PathBuf {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    dir(root, id).join(format!("process-{}.json", now.as_nanos()))
}

pub fn exists(root: &Path, id: &str) -> bool {
    dir(root, id).join("state.json").exists()
}

/// Removes the container's state.
pub fn remove(root: &Path, id: &str) -> Result<(), OciError> {
    match std::fs::remove_dir_all(dir(root, id)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => fail(format!("remove the state of {id}: {e}")),
    }
}

/// When process `pid` started ([`crate::registry::start_time`]).
fn start_time(pid: u32) -> Option<u64> {
    crate::registry::start_time(i32::try_from(pid).ok()?)
}

/// Whether `pid` is alive and not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with(['Z', 'X'])))
        .is_some_and(|dead| !dead)
}

/// The time now as RFC 3339 UTC with nanoseconds.
fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

/// `secs` after the epoch as RFC 3339 UTC (civil date by Howard Hinnant's algorithm).
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl State {
    /// Makes `ROOT/ID` (refused when it exists) and writes the state of a container
    /// being created.
    pub fn create(
        root: &Path,
        id: &str,
        bundle: &Path,
        c: &super::config::Container,
    ) -> Result<State, OciError> {
        use std::os::unix::fs::DirBuilderExt;
        context(
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o711)
                .create(root),
            "--root",
        )?;
        match std::fs::DirBuilder::new().mode(0o700).create(dir(root, id)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return fail(format!("container {id} already exists"))
            }
            Err(e) => return fail(format!("create the state of {id}: {e}")),
        }
        let st = State {
            id: id.to_owned(),
            pid: 0,
            started: 0,
            bundle: bundle.to_owned(),
            rootfs: c.rootfs.clone(),
            created: now_rfc3339(),
            annotations: c.annotations.clone(),
        };
        st.save(root)?;
        Ok(st)
    }

    /// Records the init's pid.
    pub fn set_pid(mut self, root: &Path, pid: u32) -> Result<State, OciError> {
        self.pid = pid;
        self.started = start_time(pid).unwrap_or(0);
        self.save(root)?;
        Ok(self)
    }

    fn save(&self, root: &Path) -> Result<(), OciError> {
        let path = dir(root, &self.id).join("state.json");
        let tmp = path.with_extension("tmp");
        context(std::fs::write(&tmp, self.to_json(root)), "write state.json")?;
        context(std::fs::rename(&tmp, &path), "write state.json")
    }

    pub fn load(root: &Path, id: &str) -> Result<State, OciError> {
        if !super::cli::valid_id(id) {
            return fail(format!("invalid container id '{id}'"));
        }
        let path = dir(root, id).join("state.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return fail(format!("container {id} does not exist"))
            }
            Err(e) => return fail(format!("{}: {e}", path.display())),
        };
        let v = context(json::parse_bytes(&bytes), "state.json")?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        Ok(State {
            id: s("id"),
            pid: v.get("pid").and_then(Value::as_u64).unwrap_or(0) as u32,
            started: v.get("sandletStarted").and_then(Value::as_u64).unwrap_or(0),
            bundle: s("bundle").into(),
            rootfs: s("rootfs").into(),
            created: s("created"),
            annotations: v
                .get("annotations")
                .and_then(Value::as_object)
                .unwrap_or_default()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect(),
        })
    }

    /// Whether the init is the process that runs (not a reuse of its pid).
    fn init_alive(&self) -> bool {
        self.pid != 0 && alive(self.pid) && start_time(self.pid) == Some(self.started)
    }

    /// `created`, `running`, `paused` or `stopped`.
    pub fn status(&self, root: &Path) -> &'static str {
        if !self.init_alive() {
            "stopped"
        } else if start_socket(root, &self.id).exists() {
            "created"
        } else if dir(root, &self.id).join("paused").exists() {
            "paused"
        } else {
            "running"
        }
    }

    /// Records that the container is paused, or no longer.
    pub fn set_paused(&self, root: &Path, paused: bool) -> Result<(), OciError> {
        let mark = dir(root, &self.id).join("paused");
        match paused {
            true => context(std::fs::write(&mark, b""), "record the pause"),
            false => match std::fs::remove_file(&mark) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    fail(format!("record the resume: {e}"))
                }
                _ => Ok(()),
            },
        }
    }

    /// The command's pid, once it runs.
    pub fn workload(&self, root: &Path) -> Option<i32> {
        std::fs::read_to_string(workload_file(root, &self.id))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Records a detached exec's process.
    pub fn add_exec(&self, root: &Path, pid: u32) -> Result<(), OciError> {
        let d = dir(root, &self.id).join("exec");
        context(std::fs::create_dir_all(&d), "record the exec")?;
        context(
            std::fs::write(
                d.join(pid.to_string()),
                start_time(pid).unwrap_or(0).to_string(),
            ),
            "record the exec",
        )
    }

    /// Every process of the container: the init's tree and the detached execs' trees.
    pub fn pids(&self, root: &Path) -> Vec<i32> {
        let mut out = Vec::new();
        if self.init_alive() {
            out.extend(crate::procfs::tree_pids(Some(self.pid as i32)));
        }
        if let Ok(entries) = std::fs::read_dir(dir(root, &self.id).join("exec")) {
            for e in entries.flatten() {
                let pid: u32 = e.file_name().to_string_lossy().parse().unwrap_or(0);
                let recorded = std::fs::read_to_string(e.path()).unwrap_or_default();
                if pid != 0
                    && alive(pid)
                    && start_time(pid).map(|t| t.to_string()) == Some(recorded.trim().into())
                {
                    out.extend(crate::procfs::tree_pids(Some(pid as i32)));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// runc's `state` JSON.
    pub fn to_json(&self, root: &Path) -> String {
        let mut out = String::from("{\"ociVersion\":\"1.0.2\",\"id\":");
        json::escape_into(&mut out, &self.id);
        out.push_str(&format!(",\"pid\":{},\"status\":", self.pid));
        json::escape_into(&mut out, self.status(root));
        out.push_str(",\"bundle\":");
        json::escape_into(&mut out, &self.bundle.to_string_lossy());
        out.push_str(",\"rootfs\":");
        json::escape_into(&mut out, &self.rootfs.to_string_lossy());
        out.push_str(",\"created\":");
        json::escape_into(&mut out, &self.created);
        out.push_str(",\"owner\":\"\",\"annotations\":{");
        for (i, (k, v)) in self.annotations.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::escape_into(&mut out, k);
            out.push(':');
            json::escape_into(&mut out, v);
        }
        out.push_str(&format!("}},\"sandletStarted\":{}}}\n", self.started));
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            super::rfc3339(951_782_400, 5),
            "2000-02-29T00:00:00.000000005Z"
        );
        assert_eq!(
            super::rfc3339(1_796_428_800, 0),
            "2026-12-05T00:00:00.000000000Z"
        );
    }
}
