//! sandlet as an OCI runtime: runc's command line ([`cli`]) over a bundle's
//! `config.json` ([`config`]), so that containerd's runc shim can run containers through
//! it (`BinaryName` = `sandlet-runc`).
//!
//! `create` judges the bundle, then starts the container's init: sandlet itself again
//! (`init ID`), in a session of its own, which waits on `ROOT/ID/start.sock`; `create`
//! writes its pid to the pid file and returns, so the init becomes the shim's child (the
//! shim is a subreaper). `start` connects to the socket; the init then runs the sandbox
//! as `sandlet run` does and exits with the command's status (128 + N for a signal).
//! `exec` runs another sandbox over the same root and mounts.

pub mod cli;
pub mod config;
mod error;
mod state;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use cli::{Command, Create, Exec, Global};
pub use error::OciError;
use error::{context, fail};
pub use state::State;

/// Variable naming the descriptor on which `init` reports that it is ready.
const READY_FD: &str = "SANDLET_RUNC_READY_FD";
/// Set for a detached exec's own process: its `--process` is a copy to remove.
const PROCESS_COPY: &str = "SANDLET_RUNC_PROCESS_COPY";
/// Variable naming the pty slave that `init` (or a detached `exec`) makes its terminal.
const TTY: &str = "SANDLET_RUNC_TTY";

/// What a command leaves for `main` to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    /// Print this on stdout, exit 0.
    Print(String),
    /// Exit with this status.
    Exit(u8),
}

/// The state directory: `--root`, else /run/sandlet-runc (root) or
/// `$XDG_RUNTIME_DIR/sandlet-runc`.
fn root_dir(g: &Global) -> PathBuf {
    if let Some(r) = &g.root {
        // Absolute: the start socket is reached from inside the container's directory.
        return std::env::current_dir().map_or_else(|_| r.clone(), |cwd| cwd.join(r));
    }
    let uid = rustix::process::geteuid().as_raw();
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|_| uid != 0) {
        Some(x) => Path::new(&x).join("sandlet-runc"),
        None if uid == 0 => PathBuf::from("/run/sandlet-runc"),
        None => PathBuf::from(format!("/tmp/sandlet-runc-{uid}")),
    }
}

/// One `--log` line for an error: `{"level":"error","msg":...,"time":...}` or text.
pub fn log_line(msg: &str, json: bool) -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let time = state::rfc3339(d.as_secs() as i64, d.subsec_nanos());
    if !json {
        return format!("time=\"{time}\" level=error msg={msg:?}\n");
    }
    let mut out = String::from("{\"level\":\"error\",\"msg\":");
    crate::json::escape_into(&mut out, msg);
    out.push_str(",\"time\":");
    crate::json::escape_into(&mut out, &time);
    out.push_str("}\n");
    out
}

/// Runs one runtime command.
pub fn main(g: &Global, command: Command) -> Result<Done, OciError> {
    let root = root_dir(g);
    match command {
        Command::Create(c) => create(g, &root, &c).map(|_| Done::Exit(0)),
        Command::Run { create: c, detach } => {
            let init = create(g, &root, &c)?;
            start(&root, &c.id)?;
            if detach {
                return Ok(Done::Exit(0));
            }
            let status = rustix::process::waitpid(
                Some(rustix::process::Pid::from_raw(init as i32).ok_or(OciError("pid".into()))?),
                rustix::process::WaitOptions::empty(),
            )?;
            let code = match status {
                Some((_, st)) => st
                    .exit_status()
                    .map(|c| c as u8)
                    .or(st.terminating_signal().map(|s| 128 + s as u8))
                    .unwrap_or(1),
                None => 1,
            };
            let _ = state::remove(&root, &c.id);
            Ok(Done::Exit(code))
        }
        Command::Start { id } => start(&root, &id).map(|()| Done::Exit(0)),
        Command::State { id } => Ok(Done::Print(State::load(&root, &id)?.to_json(&root))),
        Command::Kill { id, signal, all } => kill(&root, &id, signal, all).map(|()| Done::Exit(0)),
        Command::Delete { id, force } => delete(&root, &id, force).map(|()| Done::Exit(0)),
        Command::Exec(e) => exec(g, &root, &e),
        Command::Ps { id } => {
            let st = State::load(&root, &id)?;
            let pids: Vec<String> = st.pids(&root).iter().map(i32::to_string).collect();
            Ok(Done::Print(format!("[{}]\n", pids.join(","))))
        }
        Command::Update {
            id,
            resources,
            memory,
            pids,
        } => update(&root, &id, resources.as_deref(), memory, pids).map(|()| Done::Exit(0)),
        Command::Pause { id, pause } => self::pause(&root, &id, pause).map(|()| Done::Exit(0)),
        Command::Features => Ok(Done::Print(FEATURES.to_owned())),
        Command::Spec { bundle } => {
            let path = bundle.join("config.json");
            if path.exists() {
                return fail(format!("{}: already exists", path.display()));
            }
            context(std::fs::write(&path, DEFAULT_SPEC), "write config.json")?;
            Ok(Done::Exit(0))
        }
        Command::Unsupported { name } => fail(format!(
            "{name} is not supported by sandlet-runc (see the README: Kubernetes and containerd)"
        )),
        Command::Init { id } => init(g, &root, &id),
    }
}

/// `config.json` of `bundle` as a container, with `process` in place of its own.
fn load(bundle: &Path, process: Option<config::Process>) -> Result<config::Container, OciError> {
    let path = bundle.join("config.json");
    let bytes = context(std::fs::read(&path), &path.display().to_string())?;
    let value = context(crate::json::parse_bytes(&bytes), "config.json")?;
    let mut c = context(config::container(&value, bundle), "config.json")?;
    if let Some(p) = process {
        c.process = p;
    }
    for what in &c.ignored {
        log::debug!("config.json: {what} is not honoured");
    }
    Ok(c)
}

/// The policy of `c`: its flags through the same producer and judge as `sandlet run`.
fn policy(c: &config::Container) -> Result<crate::policy::Policy, OciError> {
    let mut args = c.args.clone();
    args.clean_env = true;
    args.env = c.process.env.clone();
    args.cwd = Some(c.process.cwd.clone());
    if let Some(n) = c.process.nofile {
        args.max_open_files = Some(n.to_string());
    }
    let mut command: Vec<OsString> = c.process.args.clone();
    context(
        crate::profile::apply(&mut args, &mut command),
        "io.sandlet.profile",
    )?;
    let mut spec = context(crate::flags::spec(&args, command), "config.json")?;
    if c.process.terminal {
        spec.view.terminal = std::env::var_os(TTY).map(PathBuf::from);
    }
    spec.user = c.process.user.clone();
    spec.view.tmpfs = c
        .tmpfs
        .iter()
        .map(|(at, o)| (PathBuf::from(at), o.clone()))
        .collect();
    spec.view.sysfs = c.sysfs;
    context(crate::policy::Policy::new(spec), "config.json")
}

/// Creates the mount points the binds need, and /proc, /dev, /tmp, inside the root.
fn mount_points(c: &config::Container) -> Result<(), OciError> {
    let root = context(crate::policy::root::Root::new(&c.rootfs), "root.path")?;
    let mut wanted: Vec<(String, bool)> = ["/proc", "/dev", "/tmp"]
        .iter()
        .map(|d| (d.to_string(), true))
        .collect();
    wanted.extend(c.mount_points.iter().cloned());
    for (path, dir) in wanted {
        let path = crate::policy::root::lexical(Path::new(&path));
        if root.resolve(&path).is_ok() {
            continue;
        }
        let mut made = PathBuf::from("/");
        let parts: Vec<_> = path.components().skip(1).collect();
        for (i, part) in parts.iter().enumerate() {
            let next = made.join(part);
            if root.resolve(&next).is_err() {
                let parent = context(root.resolve(&made), "mount point")?;
                let host = parent.join(part);
                if i + 1 == parts.len() && !dir {
                    context(std::fs::write(&host, b""), "create a mount point")?;
                } else {
                    context(std::fs::create_dir(&host), "create a mount point")?;
                }
            }
            made = next;
        }
    }
    Ok(())
}

/// Allocates a pty and sends its master to the console socket (runc's protocol: one
/// descriptor, the pty's name as data); the slave's path.
fn console(socket: &Path) -> Result<String, OciError> {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let name = ptsname(&master, Vec::new())?.to_string_lossy().into_owned();
    let sock = context(UnixStream::connect(socket), "--console-socket")?;
    context(
        crate::sys::send_with_fd(sock.as_fd(), name.as_bytes(), master.as_fd()),
        "send the console",
    )?;
    Ok(name)
}

/// In a process of its own session: the pty slave `path` as its controlling terminal
/// and stdin, stdout, stderr.
fn take_terminal(path: &str) -> Result<(), OciError> {
    use rustix::fs::{Mode, OFlags};
    let _ = rustix::process::setsid();
    let tty = rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())?;
    let _ = rustix::process::ioctl_tiocsctty(&tty);
    Ok(crate::sys::dup_onto_stdio(tty.as_fd())?)
}

/// `linux.namespaces` `network` with a path: this process joins it (before the
/// sandbox starts, so the command is on the pod's network).
fn join_netns(c: &config::Container) -> Result<(), OciError> {
    let Some(ns) = &c.netns else {
        return Ok(());
    };
    let f = context(std::fs::File::open(ns), "network namespace")?;
    context(
        rustix::thread::move_into_link_name_space(
            f.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        ),
        "join the network namespace",
    )
}

fn create(g: &Global, root: &Path, c: &Create) -> Result<u32, OciError> {
    let bundle = context(std::fs::canonicalize(&c.bundle), "--bundle")?;
    let container = load(&bundle, None)?;
    if container.process.terminal && c.console_socket.is_none() {
        return fail("process.terminal needs --console-socket");
    }
    mount_points(&container)?;
    policy(&container)?;
    let st = State::create(root, &c.id, &bundle, &container)?;
    let result = spawn_init(g, root, c, container.process.terminal);
    match result {
        Ok(pid) => {
            st.set_pid(root, pid)?;
            if let Some(f) = &c.pid_file {
                write_pid_file(f, pid)?;
            }
            Ok(pid)
        }
        Err(e) => {
            let _ = state::remove(root, &c.id);
            Err(e)
        }
    }
}

fn write_pid_file(path: &Path, pid: u32) -> Result<(), OciError> {
    let tmp = path.with_extension("sandlet-tmp");
    context(std::fs::write(&tmp, pid.to_string()), "--pid-file")?;
    context(std::fs::rename(&tmp, path), "--pid-file")
}

/// Starts `init ID` and waits until it is ready (or failed); its pid.
fn spawn_init(g: &Global, root: &Path, c: &Create, terminal: bool) -> Result<u32, OciError> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::empty())?;
    // The read end stays ours only.
    rustix::io::fcntl_setfd(&read, rustix::io::FdFlags::CLOEXEC)?;
    let exe = context(std::env::current_exe(), "find sandlet's executable")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("oci").arg("--root").arg(root);
    if let Some(log) = &g.log {
        cmd.arg("--log").arg(log);
        if g.log_json {
            cmd.args(["--log-format", "json"]);
        }
    }
    cmd.args(["init", &c.id]);
    cmd.env(READY_FD, write.as_raw_fd().to_string());
    if terminal {
        let socket = c.console_socket.as_deref().unwrap_or(Path::new(""));
        cmd.env(TTY, console(socket)?);
        cmd.stdin(std::process::Stdio::null());
        cmd.stdout(std::process::Stdio::null());
        cmd.stderr(std::process::Stdio::null());
    }
    let child = context(cmd.spawn(), "start the container's init")?;
    drop(write);
    let mut said = String::new();
    let _ = std::fs::File::from(read).read_to_string(&mut said);
    match said.strip_prefix("ok") {
        Some(_) => Ok(child.id()),
        None => {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
            fail(match said.trim() {
                "" => "the container's init ended before it was ready".to_owned(),
                why => why.to_owned(),
            })
        }
    }
}

/// The container's init: judge, wait for `start`, run the sandbox, exit with its status.
fn init(_g: &Global, root: &Path, id: &str) -> Result<Done, OciError> {
    let ready = std::env::var(READY_FD)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .ok_or(OciError("init is started by create".into()))
        .and_then(|fd| context(crate::sys::take_fd(fd), "the ready descriptor"))?;
    let mut ready = std::fs::File::from(ready);
    let prepared = (|| -> Result<(crate::policy::Policy, UnixListener), OciError> {
        match std::env::var(TTY) {
            Ok(tty) => take_terminal(&tty)?,
            Err(_) => {
                let _ = rustix::process::setsid();
            }
        }
        let st = State::load(root, id)?;
        let c = load(&st.bundle, None)?;
        join_netns(&c)?;
        let policy = policy(&c)?;
        let sock = state::start_socket_here(root, id)?;
        let _ = std::fs::remove_file(&sock);
        let listener = context(UnixListener::bind(&sock), "bind the start socket")?;
        Ok((policy, listener))
    })();
    let (policy, listener) = match prepared {
        Ok(p) => p,
        Err(e) => {
            let _ = write!(ready, "{e}");
            return Err(e);
        }
    };
    let _ = ready.write_all(b"ok");
    drop(ready);
    let (mut client, _) = context(listener.accept(), "wait for start")?;
    let _ = std::fs::remove_file(state::start_socket(root, id));
    drop(listener);
    let mut line = [0u8; 6];
    let _ = client.read(&mut line);
    let workload = state::workload_file(root, id);
    let mut told = Some(client.try_clone()?);
    let report = crate::launch::run_started(&policy, |pid| {
        let _ = std::fs::write(&workload, pid.as_raw_nonzero().to_string());
        if let Some(mut c) = told.take() {
            let _ = c.write_all(b"ok");
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    });
    match report {
        Ok(r) => Ok(Done::Exit(r.outcome.exit_code())),
        Err(e) => {
            let _ = client.write_all(e.to_string().as_bytes());
            Ok(Done::Exit(e.exit_code()))
        }
    }
}

fn start(root: &Path, id: &str) -> Result<(), OciError> {
    let st = State::load(root, id)?;
    if st.status(root) != "created" {
        return fail(format!(
            "container {id} is not created (it is {})",
            st.status(root)
        ));
    }
    let mut sock = context(
        UnixStream::connect(state::start_socket_here(root, id)?),
        "reach the container's init",
    )?;
    sock.write_all(b"start\n")?;
    let mut said = String::new();
    let _ = sock.read_to_string(&mut said);
    match said.as_str() {
        "ok" => Ok(()),
        "" => fail("the container's init ended before the command ran"),
        why => fail(why.to_owned()),
    }
}

fn kill(root: &Path, id: &str, signal: i32, all: bool) -> Result<(), OciError> {
    use rustix::process::{kill_process, kill_process_group, Pid, Signal};
    let st = State::load(root, id)?;
    let sig = Signal::from_named_raw(signal).ok_or(OciError(format!("signal {signal}")))?;
    let init = Pid::from_raw(st.pid as i32).ok_or(OciError("no init".into()))?;
    match (st.status(root), st.workload(root)) {
        ("stopped", _) => fail(format!("container {id} is not running")),
        ("running" | "paused", Some(w)) => {
            let w = Pid::from_raw(w).ok_or(OciError("pid".into()))?;
            let r = match all {
                true => kill_process_group(w, sig),
                false => kill_process(w, sig),
            };
            if all {
                for p in st.pids(root) {
                    if let Some(p) = Pid::from_raw(p) {
                        let _ = kill_process(p, sig);
                    }
                }
            }
            Ok(r.or_else(|e| match e {
                rustix::io::Errno::SRCH => Ok(()),
                e => Err(e),
            })?)
        }
        _ => Ok(kill_process(init, sig)?),
    }
}

/// `update`: the memory and pids limits lowered in the running sandbox (through its
/// control socket); anything else, or a higher limit, is refused.
fn update(
    root: &Path,
    id: &str,
    resources: Option<&Path>,
    memory: Option<String>,
    pids: Option<String>,
) -> Result<(), OciError> {
    let st = State::load(root, id)?;
    if !matches!(st.status(root), "running" | "paused") {
        return fail(format!("container {id} is not running"));
    }
    let mut wanted: Vec<(&str, String)> = Vec::new();
    if let Some(r) = resources {
        let bytes = match r == Path::new("-") {
            true => {
                let mut b = Vec::new();
                context(std::io::stdin().read_to_end(&mut b), "--resources")?;
                b
            }
            false => context(std::fs::read(r), "--resources")?,
        };
        let v = context(crate::json::parse_bytes(&bytes), "--resources")?;
        let limit = |section: &str| {
            v.get(section)
                .and_then(|s| s.get("limit"))
                .and_then(crate::json::Value::as_i64)
                .filter(|&n| n > 0)
        };
        if let Some(n) = limit("memory") {
            wanted.push(("memory", n.to_string()));
        }
        if let Some(n) = limit("pids") {
            wanted.push(("processes", n.to_string()));
        }
        let cpu = v.get("cpu").and_then(crate::json::Value::as_object);
        if cpu.is_some_and(|c| c.iter().any(|(_, v)| !v.is_null())) {
            return fail("update: CPU limits of a running container cannot be changed");
        }
    }
    if let Some(m) = memory {
        let bytes = context(crate::policy::parse::parse_size(&m), "--memory")?;
        wanted.push(("memory", bytes.to_string()));
    }
    wanted.extend(pids.map(|p| ("processes", p)));
    let entry = crate::registry::find(&st.pid.to_string()).ok_or(OciError(format!(
        "container {id}: its sandbox is not registered"
    )))?;
    for (what, n) in wanted {
        let reply = context(
            crate::registry::ask(&entry, &format!("limit {what} {n}")),
            "update",
        )?;
        if let Some(why) = reply.trim().strip_prefix("error: ") {
            return fail(format!("update {what}: {why}"));
        }
    }
    Ok(())
}

/// `pause`: every process of the container stopped (SIGSTOP; not a cgroup freeze: a
/// parent in the container can see its children stop); `resume`: continued.
fn pause(root: &Path, id: &str, pause: bool) -> Result<(), OciError> {
    use rustix::process::{kill_process, Pid, Signal};
    let st = State::load(root, id)?;
    let (want, sig) = match pause {
        true => ("running", Signal::STOP),
        false => ("paused", Signal::CONT),
    };
    if st.status(root) != want {
        return fail(format!("container {id} is {}, not {want}", st.status(root)));
    }
    let init = st.pid as i32;
    for p in st.pids(root).into_iter().filter(|&p| p != init) {
        if let Some(p) = Pid::from_raw(p) {
            let _ = kill_process(p, sig);
        }
    }
    st.set_paused(root, pause)
}

fn delete(root: &Path, id: &str, force: bool) -> Result<(), OciError> {
    let st = match State::load(root, id) {
        Ok(st) => st,
        Err(_) if !state::exists(root, id) && force => return Ok(()),
        Err(e) => return Err(e),
    };
    // A created container (its command never ran) goes without --force, as in runc.
    if st.status(root) != "stopped" {
        if !force && st.status(root) != "created" {
            return fail(format!(
                "container {id} is {}: use --force",
                st.status(root)
            ));
        }
        let _ = kill(root, id, libc::SIGKILL, true);
        if let Some(p) = rustix::process::Pid::from_raw(st.pid as i32) {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
        for _ in 0..200 {
            if st.status(root) == "stopped" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    state::remove(root, id)
}

fn exec(g: &Global, root: &Path, e: &Exec) -> Result<Done, OciError> {
    let st = State::load(root, &e.id)?;
    if st.status(root) != "running" {
        return fail(format!("container {} is not running", e.id));
    }
    let process = match &e.process {
        Some(f) => {
            let bytes = context(std::fs::read(f), "--process")?;
            if std::env::var_os(PROCESS_COPY).is_some() {
                let _ = std::fs::remove_file(f);
            }
            let v = context(crate::json::parse_bytes(&bytes), "--process")?;
            context(config::process(&v), "--process")?
        }
        None => {
            let mut c = load(&st.bundle, None)?;
            if e.args.is_empty() {
                return fail("exec: no command (give --process or arguments)");
            }
            c.process.args = e.args.iter().map(OsString::from).collect();
            c.process.terminal = false;
            c.process
        }
    };
    let c = load(&st.bundle, Some(process))?;
    if c.process.terminal && e.console_socket.is_none() && std::env::var(TTY).is_err() {
        return fail("process.terminal needs --console-socket");
    }
    let policy = policy(&c)?;
    if e.detach {
        // Run in a process of our own that the shim (a subreaper) inherits.
        let exe = context(std::env::current_exe(), "find sandlet's executable")?;
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("oci").arg("--root").arg(root);
        if let Some(log) = &g.log {
            cmd.arg("--log").arg(log);
        }
        cmd.arg("exec");
        if let Some(p) = &e.process {
            // The caller may remove its file once we return: the child reads a copy.
            let copy = state::process_copy(root, &e.id);
            context(std::fs::copy(p, &copy), "copy --process")?;
            cmd.arg("--process").arg(&copy).env(PROCESS_COPY, "1");
        }
        cmd.arg(&e.id).args(&e.args);
        if c.process.terminal {
            let socket = e.console_socket.as_deref().unwrap_or(Path::new(""));
            cmd.env(TTY, console(socket)?);
            cmd.stdin(std::process::Stdio::null());
            cmd.stdout(std::process::Stdio::null());
            cmd.stderr(std::process::Stdio::null());
        }
        let child = context(cmd.spawn(), "start the exec process")?;
        st.add_exec(root, child.id())?;
        if let Some(f) = &e.pid_file {
            write_pid_file(f, child.id())?;
        }
        return Ok(Done::Exit(0));
    }
    if let Ok(tty) = std::env::var(TTY) {
        take_terminal(&tty)?;
    }
    join_netns(&c)?;
    let report = crate::launch::run(&policy)?;
    Ok(Done::Exit(report.outcome.exit_code()))
}

/// `features`: what this runtime understands, in runc's format.
const FEATURES: &str = r#"{
  "ociVersionMin": "1.0.0",
  "ociVersionMax": "1.1.0",
  "hooks": [],
  "mountOptions": ["bind", "rbind", "ro", "rw"],
  "linux": {
    "namespaces": ["mount", "network"],
    "capabilities": [],
    "cgroup": {"v1": false, "v2": false, "systemd": false, "systemdUser": false},
    "seccomp": {"enabled": true, "actions": [], "operators": [], "archs": []},
    "apparmor": {"enabled": false},
    "selinux": {"enabled": false}
  },
  "annotations": {"io.sandlet.runtime": "sandlet-runc"}
}
"#;

/// `spec`: a default `config.json` (rootfs `rootfs`, `sh` on a terminal).
const DEFAULT_SPEC: &str = r#"{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": true,
    "user": {"uid": 0, "gid": 0},
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "sandlet",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}
  ],
  "linux": {"namespaces": [{"type": "mount"}]}
}
"#;
