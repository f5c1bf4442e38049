//! Files the sandbox sees instead of the host's, decided from the policy: `/etc/hosts`
//! (the pinned names, or the host's table with the sandbox's name), `/etc/hostname`,
//! `/proc/net/tcp{,6}` under `--port-remap`, the CPU files (`online`, `possible`,
//! `present`, `/proc/cpuinfo`) under `--num-cpus`, and
//! `/dev/urandom`, `/dev/random` under `--random-seed`. The supervisor's open handler
//! (`handlers/files.rs`) serves exactly this list.

use super::fs::{covers, FsRule};
use super::network::NetPolicy;

/// What a served file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Fixed text.
    Text(Vec<u8>),
    /// `/proc/net/tcp` (`v6`: `tcp6`) made at each open: the sandbox's own sockets,
    /// with virtual ports (`--port-remap`).
    NetTcp { v6: bool },
    /// `/proc/cpuinfo` with only the first `cpus` processors (`--num-cpus`).
    CpuInfo { cpus: u32 },
    /// An endless read-only stream of the seeded generator (`--random-seed`): each open
    /// gets the next stream number, so a program that opens in a fixed order reads the
    /// same bytes every run.
    Random,
}

/// One served file: its absolute path and content.
pub type Served = (&'static str, Content);

/// What the supervised run shows of the host, for [`served_files`].
#[derive(Debug, Clone, Copy)]
pub struct Host<'a> {
    /// The text of the host's /etc/hosts.
    pub hosts: &'a str,
    /// The host's name (`uname -n`).
    pub name: &'a str,
}

/// The files a supervised sandbox serves (`name`: `--name`). A file the command could not
/// read itself (`fs`, Landlock) is only served when its content is made up
/// (`/etc/hostname`, the CPU count): host data such as `/proc/cpuinfo` stays out of
/// reach without `-r /proc`.
pub fn served_files(
    name: Option<&str>,
    fs: &[FsRule],
    net: &NetPolicy,
    num_cpus: Option<u32>,
    random: bool,
    host: Host<'_>,
) -> Vec<Served> {
    let mut files: Vec<Served> = Vec::new();
    if let Some(text) = net.hosts_file(name.unwrap_or(host.name)) {
        files.push(("/etc/hosts", Content::Text(text.into_bytes())));
    } else if let (Some(name), true) = (name, covers(fs, "/etc/hosts")) {
        // The host's table, with the sandbox's name for its own address instead of the
        // host's name, so the name `uname` gives resolves.
        let text = renamed_hosts(host.hosts, host.name, name);
        files.push(("/etc/hosts", Content::Text(text.into_bytes())));
    }
    if let Some(name) = name {
        files.push((
            "/etc/hostname",
            Content::Text(format!("{name}\n").into_bytes()),
        ));
    }
    if net.remap && covers(fs, "/proc/net/tcp") {
        files.push(("/proc/net/tcp", Content::NetTcp { v6: false }));
        files.push(("/proc/net/tcp6", Content::NetTcp { v6: true }));
    }
    if let Some(cpus) = num_cpus {
        let online = match cpus {
            1 => "0\n".to_owned(),
            n => format!("0-{}\n", n - 1),
        };
        for path in [
            "/sys/devices/system/cpu/online",
            "/sys/devices/system/cpu/possible",
            "/sys/devices/system/cpu/present",
        ] {
            files.push((path, Content::Text(online.clone().into_bytes())));
        }
        if covers(fs, "/proc/cpuinfo") {
            files.push(("/proc/cpuinfo", Content::CpuInfo { cpus }));
        }
    }
    if random {
        files.push(("/dev/urandom", Content::Random));
        files.push(("/dev/random", Content::Random));
    }
    files
}

/// `hosts` (an /etc/hosts text) without the names `real` (the host's name, also as
/// the first label of a dotted name), and `127.0.1.1 NAME` for the sandbox's `name`.
/// A line left with no name is dropped; comments and blank lines are kept.
pub fn renamed_hosts(hosts: &str, real: &str, name: &str) -> String {
    let short = real.split('.').next().unwrap_or(real);
    let keep_all = short.is_empty() || short == "localhost";
    let is_real = |h: &str| !keep_all && h.split('.').next() == Some(short);
    let mut out = String::new();
    for line in hosts.lines() {
        let (entry, comment) = match line.find('#') {
            Some(i) => line.split_at(i),
            None => (line, ""),
        };
        let mut fields = entry.split_whitespace();
        let Some(addr) = fields.next() else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let names: Vec<&str> = fields.filter(|h| !is_real(h)).collect();
        if names.is_empty() {
            continue;
        }
        out.push_str(addr);
        for h in names {
            out.push('\t');
            out.push_str(h);
        }
        if !comment.is_empty() {
            out.push(' ');
            out.push_str(comment);
        }
        out.push('\n');
    }
    out.push_str("127.0.1.1\t");
    out.push_str(name);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::super::fs::FsAccess;
    use super::*;

    #[test]
    fn hosts_get_the_sandbox_name_instead_of_the_hosts() {
        let hosts =
            "# static\n127.0.0.1\tlocalhost\n127.0.1.1\tbox.lan box # me\n\n10.0.0.2 db box\n";
        assert_eq!(
            renamed_hosts(hosts, "box", "sandlet-7"),
            "# static\n127.0.0.1\tlocalhost\n\n10.0.0.2\tdb\n127.0.1.1\tsandlet-7\n"
        );
        // A dotted host name counts by its first label; localhost is never dropped.
        assert_eq!(
            renamed_hosts("127.0.1.1 box\n", "box.lan", "s"),
            "127.0.1.1\ts\n"
        );
        assert_eq!(
            renamed_hosts("127.0.0.1 localhost\n", "localhost", "s"),
            "127.0.0.1\tlocalhost\n127.0.1.1\ts\n"
        );
    }

    #[test]
    fn host_data_is_served_only_where_the_command_could_read_it() {
        let host = Host {
            hosts: "127.0.1.1 real\n",
            name: "real",
        };
        let paths = |fs: &[FsRule], net: &NetPolicy, cpus, random| -> Vec<&'static str> {
            served_files(Some("box"), fs, net, cpus, random, host)
                .into_iter()
                .map(|(p, _)| p)
                .collect()
        };
        let read = |p: &str| FsRule {
            path: p.into(),
            access: FsAccess::Read,
        };
        let plain = NetPolicy::default();
        assert_eq!(paths(&[], &plain, None, false), ["/etc/hostname"]);
        assert_eq!(
            paths(&[read("/etc")], &plain, Some(2), true),
            [
                "/etc/hosts",
                "/etc/hostname",
                "/sys/devices/system/cpu/online",
                "/sys/devices/system/cpu/possible",
                "/sys/devices/system/cpu/present",
                "/dev/urandom",
                "/dev/random"
            ]
        );
        let remap = NetPolicy {
            remap: true,
            ..NetPolicy::default()
        };
        assert_eq!(
            paths(&[read("/proc")], &remap, Some(1), false),
            [
                "/etc/hostname",
                "/proc/net/tcp",
                "/proc/net/tcp6",
                "/sys/devices/system/cpu/online",
                "/sys/devices/system/cpu/possible",
                "/sys/devices/system/cpu/present",
                "/proc/cpuinfo"
            ]
        );
        let files = served_files(Some("box"), &[read("/etc")], &plain, None, false, host);
        // Without --name nothing about the host's name is served.
        assert!(served_files(None, &[read("/etc")], &plain, None, false, host).is_empty());
        assert_eq!(
            files[0],
            ("/etc/hosts", Content::Text(b"127.0.1.1\tbox\n".to_vec()))
        );
    }
}
