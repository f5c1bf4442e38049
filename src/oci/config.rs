//! An OCI runtime bundle's `config.json`, mapped onto `run`'s flags ([`RunArgs`]): the
//! same producer, parsers and judge as the command line, so a container gets exactly
//! what `sandlet run` with those flags would. What is honoured and what is not is listed
//! in the README ("Kubernetes and containerd").

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::flags::RunArgs;
use crate::json::Value;

/// What `config.json` asks for, beyond the flags.
#[derive(Debug, Clone)]
pub struct Container {
    /// `run`'s flags: root, mounts, limits, name, sandlet's own annotations.
    pub args: RunArgs,
    /// The process: argv, environment, working directory, terminal.
    pub process: Process,
    /// `root.path`, made absolute from the bundle.
    pub rootfs: PathBuf,
    /// Mount points (paths of the root) that must exist before the binds are made.
    pub mount_points: Vec<(String, bool)>,
    /// `linux.namespaces` `network` with a `path`: joined before the sandbox starts.
    pub netns: Option<PathBuf>,
    /// `annotations`, as given.
    pub annotations: Vec<(String, String)>,
    /// `tmpfs` mounts other than /dev and /tmp: (destination, options).
    pub tmpfs: Vec<(String, String)>,
    /// A `sysfs` mount at /sys (the host's, read-only).
    pub sysfs: bool,
    /// Fields that were given but are not honoured (each named once; logged).
    pub ignored: Vec<String>,
}

/// `process` (of `config.json`, or the file `exec --process` names).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Process {
    pub args: Vec<OsString>,
    pub env: Vec<String>,
    pub cwd: String,
    pub terminal: bool,
    /// `rlimits` RLIMIT_NOFILE soft limit.
    pub nofile: Option<u64>,
    /// `user`: uid, gid, additionalGids.
    pub user: Option<crate::policy::spec::RunAs>,
}

/// Why `config.json` cannot make a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

fn typed<'v, T>(
    v: Option<&'v Value>,
    path: &str,
    expected: &'static str,
    get: impl Fn(&'v Value) -> Option<T>,
) -> Result<Option<T>, ConfigError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => get(v)
            .map(Some)
            .ok_or_else(|| err(v.wrong_type(path, expected).to_string())),
    }
}

fn text<'v>(v: &'v Value, key: &str, path: &str) -> Result<Option<&'v str>, ConfigError> {
    typed(
        v.get(key),
        &format!("{path}.{key}"),
        "string",
        Value::as_str,
    )
}

fn strings(v: &Value, key: &str, path: &str) -> Result<Vec<String>, ConfigError> {
    let path = format!("{path}.{key}");
    let Some(list) = typed(v.get(key), &path, "array", Value::as_array)? else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|s| {
            s.as_str()
                .map(str::to_owned)
                .ok_or_else(|| err(s.wrong_type(format!("{path}[]"), "string").to_string()))
        })
        .collect()
}

fn number(v: &Value, key: &str, path: &str) -> Result<Option<i64>, ConfigError> {
    typed(
        v.get(key),
        &format!("{path}.{key}"),
        "integer",
        Value::as_i64,
    )
}

/// Reads `process`.
pub fn process(p: &Value) -> Result<Process, ConfigError> {
    let args = strings(p, "args", "process")?;
    if args.is_empty() || args[0].is_empty() {
        return Err(err("process.args: no command"));
    }
    let cwd = text(p, "cwd", "process")?.unwrap_or("/").to_owned();
    if !cwd.starts_with('/') {
        return Err(err(format!("process.cwd '{cwd}': must be absolute")));
    }
    let mut nofile = None;
    if let Some(limits) = typed(
        p.get("rlimits"),
        "process.rlimits",
        "array",
        Value::as_array,
    )? {
        for l in limits {
            if text(l, "type", "process.rlimits[]")? == Some("RLIMIT_NOFILE") {
                nofile = number(l, "soft", "process.rlimits[]")?.map(|n| n.max(0) as u64);
            }
        }
    }
    let user = match p.get("user") {
        Some(u) if !u.is_null() => {
            let id = |key: &str| -> Result<u32, ConfigError> {
                let n = number(u, key, "process.user")?.unwrap_or(0);
                u32::try_from(n).map_err(|_| err(format!("process.user.{key}: {n} is not a uid")))
            };
            let mut groups = Vec::new();
            let list = typed(
                u.get("additionalGids"),
                "process.user.additionalGids",
                "array",
                Value::as_array,
            )?;
            for g in list.unwrap_or_default() {
                let n = g
                    .as_i64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        err(g
                            .wrong_type("process.user.additionalGids[]", "gid")
                            .to_string())
                    })?;
                groups.push(n);
            }
            Some(crate::policy::spec::RunAs {
                uid: id("uid")?,
                gid: id("gid")?,
                groups,
            })
        }
        _ => None,
    };
    Ok(Process {
        user,
        args: args.into_iter().map(OsString::from).collect(),
        env: strings(p, "env", "process")?,
        cwd,
        terminal: typed(
            p.get("terminal"),
            "process.terminal",
            "boolean",
            Value::as_bool,
        )?
        .unwrap_or(false),
        nofile,
    })
}

/// Mounts sandlet makes itself (or has no use for) under the new root.
const OWN_MOUNTS: &[&str] = &["/proc", "/dev", "/tmp"];

/// Maps `config` (of the bundle `bundle`) onto a container.
pub fn container(config: &Value, bundle: &Path) -> Result<Container, ConfigError> {
    if config.as_object().is_none() {
        return Err(err(config.wrong_type("config.json", "object").to_string()));
    }
    let process = match config.get("process") {
        Some(p) => self::process(p)?,
        None => return Err(err("config.json has no process")),
    };
    let root = config
        .get("root")
        .ok_or_else(|| err("config.json has no root"))?;
    let path = text(root, "path", "root")?.ok_or_else(|| err("root.path is missing"))?;
    let rootfs = bundle.join(path);
    let readonly = typed(
        root.get("readonly"),
        "root.readonly",
        "boolean",
        Value::as_bool,
    )?
    .unwrap_or(false);
    let mut args = RunArgs {
        chroot: Some(rootfs.display().to_string()),
        ..RunArgs::default()
    };
    let mut ignored = Vec::new();
    // The whole root, as a container has it; read-only roots still write their tmpfs.
    if readonly {
        args.fs_read.push("/".into());
        args.fs_write.push("/tmp".into());
    } else {
        args.fs_write.push("/".into());
    }
    if let Some(name) = text(config, "hostname", "config")? {
        args.name = Some(name.to_owned());
    }
    let mut mount_points = Vec::new();
    let mut tmpfs = Vec::new();
    let mut sysfs = false;
    let mounts = typed(config.get("mounts"), "mounts", "array", Value::as_array)?;
    for m in mounts.unwrap_or_default() {
        let dst = text(m, "destination", "mounts[]")?
            .ok_or_else(|| err("mounts[].destination is missing"))?;
        let kind = text(m, "type", "mounts[]")?.unwrap_or("");
        let options = strings(m, "options", "mounts[]")?;
        let bind = kind == "bind" || options.iter().any(|o| o == "bind" || o == "rbind");
        if bind {
            let src = text(m, "source", "mounts[]")?
                .ok_or_else(|| err(format!("mounts[] {dst}: a bind without source")))?;
            let src = bundle.join(src);
            let ro = options.iter().any(|o| o == "ro");
            // Beneath /dev, sandlet makes the mount point in its own tmpfs.
            if !dst.starts_with("/dev/") {
                mount_points.push((dst.to_owned(), src.is_dir()));
            }
            // The mount grants reading it (and writing unless read-only) by itself.
            let mut spec = format!("{dst}:{}", src.display());
            if ro {
                spec.push_str(":ro");
            }
            args.fs_mount.push(spec);
        } else if kind == "tmpfs" && !OWN_MOUNTS.contains(&dst) {
            if dst != "/dev/shm" {
                mount_points.push((dst.to_owned(), true));
            }
            let keep: Vec<&str> = options
                .iter()
                .map(String::as_str)
                .filter(|o| {
                    o.starts_with("size=") || o.starts_with("mode=") || o.starts_with("nr_inodes=")
                })
                .collect();
            tmpfs.push((dst.to_owned(), keep.join(",")));
        } else if kind == "sysfs" && dst == "/sys" {
            mount_points.push((dst.to_owned(), true));
            sysfs = true;
        } else if !OWN_MOUNTS.contains(&dst) {
            ignored.push(format!("mount {dst} ({kind})"));
        }
    }
    let mut netns = None;
    if let Some(linux) = config.get("linux") {
        let spaces = typed(
            linux.get("namespaces"),
            "linux.namespaces",
            "array",
            Value::as_array,
        )?;
        for ns in spaces.unwrap_or_default() {
            let kind = text(ns, "type", "linux.namespaces[]")?.unwrap_or("");
            let path = text(ns, "path", "linux.namespaces[]")?;
            match (kind, path) {
                ("network", Some(p)) => netns = Some(PathBuf::from(p)),
                ("mount", _) => {}
                (k, _) => ignored.push(format!("{k} namespace")),
            }
        }
        if let Some(r) = linux.get("resources") {
            resources(r, &mut args, &mut ignored)?;
        }
    }
    if let Some(n) = process.nofile {
        args.max_open_files = Some(n.to_string());
    }
    let mut annotations = Vec::new();
    let pairs = typed(
        config.get("annotations"),
        "annotations",
        "object",
        Value::as_object,
    )?;
    for (k, v) in pairs.unwrap_or_default() {
        let v = v.as_str().ok_or_else(|| {
            err(v
                .wrong_type(format!("annotations.{k}"), "string")
                .to_string())
        })?;
        annotation(k, v, &mut args)?;
        annotations.push((k.clone(), v.to_owned()));
    }
    Ok(Container {
        args,
        process,
        rootfs,
        mount_points,
        netns,
        annotations,
        tmpfs,
        sysfs,
        ignored,
    })
}

/// `linux.resources`: memory limit, pids limit, CPU quota/period, cpuset.
fn resources(r: &Value, args: &mut RunArgs, ignored: &mut Vec<String>) -> Result<(), ConfigError> {
    if let Some(m) = r.get("memory") {
        if let Some(limit) = number(m, "limit", "linux.resources.memory")? {
            if limit > 0 {
                args.max_memory = Some(limit.to_string());
            }
        }
    }
    if let Some(p) = r.get("pids") {
        if let Some(limit) = number(p, "limit", "linux.resources.pids")? {
            if limit > 0 {
                args.max_processes = Some(limit.to_string());
            }
        }
    }
    if let Some(c) = r.get("cpu") {
        let quota = number(c, "quota", "linux.resources.cpu")?;
        let period = number(c, "period", "linux.resources.cpu")?.unwrap_or(100_000);
        if let Some(q) = quota.filter(|&q| q > 0 && period > 0) {
            // One CPU's share in percent, as -c takes it (more than one CPU: no limit).
            let pct = q.saturating_mul(100) / period;
            if pct < 100 {
                args.cpu = Some(pct.max(1).to_string());
            }
        }
        if let Some(cpus) = text(c, "cpus", "linux.resources.cpu")? {
            if !cpus.is_empty() {
                args.cpu_cores = Some(cpus.to_owned());
            }
        }
        if c.get("shares").is_some_and(|s| !s.is_null()) {
            ignored.push("linux.resources.cpu.shares".into());
        }
    }
    for key in ["blockIO", "hugepageLimits", "network", "rdma", "unified"] {
        if r.get(key).is_some_and(|v| !v.is_null()) {
            ignored.push(format!("linux.resources.{key}"));
        }
    }
    Ok(())
}

/// The prefix of sandlet's own annotations.
pub const ANNOTATION_PREFIX: &str = "io.sandlet.";

/// `io.sandlet.KEY: VALUE[;VALUE...]` as the flag `--KEY`.
fn annotation(key: &str, value: &str, args: &mut RunArgs) -> Result<(), ConfigError> {
    let Some(name) = key.strip_prefix(ANNOTATION_PREFIX) else {
        return Ok(());
    };
    let values = || {
        value
            .split(';')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    match name {
        "net-allow" => args.net_allow.extend(values()),
        "net-deny" => args.net_deny.extend(values()),
        "net-allow-bind" => args.net_allow_bind.extend(values()),
        "net-deny-bind" => args.net_deny_bind.extend(values()),
        "fs-read" => args.fs_read.extend(values()),
        "fs-deny" => args.fs_deny.extend(values()),
        "deny-exec" => args.deny_exec.extend(values()),
        "profile" => args.profile = Some(value.to_owned()),
        "max-memory" => args.max_memory = Some(value.to_owned()),
        "max-processes" => args.max_processes = Some(value.to_owned()),
        "cpu" => args.cpu = Some(value.to_owned()),
        "timeout" => args.timeout = Some(value.to_owned()),
        "random-seed" => args.random_seed = Some(value.to_owned()),
        "time-start" => args.time_start = Some(value.to_owned()),
        "num-cpus" => args.num_cpus = Some(value.to_owned()),
        _ => return Err(err(format!("annotation {key}: unknown sandlet setting"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{
      "ociVersion": "1.0.2",
      "process": {"terminal": false, "user": {"uid": 0, "gid": 0},
        "args": ["sh", "-c", "echo hi"], "env": ["PATH=/bin", "A=b"], "cwd": "/work",
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
        "noNewPrivileges": true},
      "root": {"path": "rootfs", "readonly": true},
      "hostname": "box",
      "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"},
        {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]},
        {"destination": "/cache", "source": "cache", "options": ["bind", "rw"]}
      ],
      "annotations": {"io.sandlet.net-allow": "tcp://127.0.0.1:80; tcp://10.0.0.1:443",
                      "io.sandlet.max-processes": "20", "other": "kept"},
      "linux": {
        "namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/pod"}, {"type": "mount"}],
        "resources": {"memory": {"limit": 67108864}, "pids": {"limit": 32},
          "cpu": {"quota": 25000, "period": 100000, "cpus": "0"}}
      }
    }"#;

    #[test]
    fn a_runc_config_maps_onto_run_flags() {
        let v = crate::json::parse(CONFIG).unwrap();
        let c = container(&v, Path::new("/b")).unwrap();
        assert_eq!(c.rootfs, PathBuf::from("/b/rootfs"));
        assert_eq!(c.args.chroot.as_deref(), Some("/b/rootfs"));
        assert_eq!(c.args.fs_read, ["/"]);
        assert_eq!(c.args.fs_write, ["/tmp"]);
        assert_eq!(c.args.fs_mount, ["/data:/srv/data:ro", "/cache:/b/cache"]);
        assert_eq!(c.args.name.as_deref(), Some("box"));
        assert_eq!(c.args.max_memory.as_deref(), Some("67108864"));
        assert_eq!(
            c.args.max_processes.as_deref(),
            Some("20"),
            "the annotation wins"
        );
        assert_eq!(c.args.cpu.as_deref(), Some("25"));
        assert_eq!(c.args.cpu_cores.as_deref(), Some("0"));
        assert_eq!(c.args.max_open_files.as_deref(), Some("512"));
        assert_eq!(
            c.args.net_allow,
            ["tcp://127.0.0.1:80", "tcp://10.0.0.1:443"]
        );
        assert_eq!(c.netns, Some(PathBuf::from("/var/run/netns/pod")));
        assert_eq!(c.process.cwd, "/work");
        assert_eq!(c.process.env, ["PATH=/bin", "A=b"]);
        assert!(c.sysfs);
        assert_eq!(
            c.tmpfs,
            [("/dev/shm".to_owned(), "mode=1777,size=65536k".to_owned())]
        );
        assert!(c.ignored.iter().any(|i| i.contains("/dev/mqueue")));
        assert!(c.ignored.iter().any(|i| i.contains("pid namespace")));
        assert_eq!(c.annotations.len(), 3);
    }

    #[test]
    fn bad_configs_are_refused_with_the_field() {
        let bad = |text: &str| {
            let v = crate::json::parse(text).unwrap();
            container(&v, Path::new("/b")).unwrap_err().to_string()
        };
        let ok = r#""root": {"path": "r"}"#;
        assert!(bad(&format!(r#"{{{ok}}}"#)).contains("process"));
        assert!(bad(&format!(r#"{{{ok}, "process": {{"args": []}}}}"#)).contains("no command"));
        assert!(bad(&format!(r#"{{{ok}, "process": {{"args": "sh"}}}}"#)).contains("process.args"));
        assert!(bad(&format!(
            r#"{{{ok}, "process": {{"args": ["sh"], "cwd": "rel"}}}}"#
        ))
        .contains("absolute"));
        assert!(bad(r#"{"process": {"args": ["sh"]}}"#).contains("root"));
        assert!(bad(&format!(
            r#"{{{ok}, "process": {{"args": ["sh"]}}, "annotations": {{"io.sandlet.nope": "1"}}}}"#
        ))
        .contains("io.sandlet.nope"));
        assert!(bad("[]").contains("object"));
    }
}
