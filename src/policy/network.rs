//! Network rules as the run enforces them: `--net-allow`/`--net-deny` with host names
//! pinned to the addresses /etc/hosts gave at start, bind ports, and which enforcer
//! (Landlock alone, or the supervisor) each needs.

use std::net::IpAddr;

use super::net::{self, NetSpec, Proto};
use super::parse::PortSet;
use crate::error::PolicyError;

/// Network rules beyond Landlock's defaults (TCP connect denied, bind on listed ports).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetPolicy {
    /// `--net-allow` rules, hostnames resolved to addresses.
    pub allow: Vec<NetSpec>,
    /// `--net-deny` rules (addresses only).
    pub deny: Vec<NetSpec>,
    /// `--net-deny-bind` ports.
    pub deny_bind: PortSet,
    /// Host names of `--net-allow` rules and the addresses they were pinned to at start
    /// (served to the command as its /etc/hosts).
    pub pinned: Vec<(String, Vec<IpAddr>)>,
    /// `--port-remap`: binds, connects, socket names and /proc/net/tcp go through the
    /// supervisor's virtual port map.
    pub remap: bool,
}

impl NetPolicy {
    /// Whether UDP sockets may exist: an allow rule covers UDP, or deny rules (which
    /// allow everything else).
    pub fn udp(&self) -> bool {
        !self.deny.is_empty() || self.allow.iter().any(|r| r.protos.udp)
    }

    /// Whether ICMP ping sockets may exist: only an `icmp://` allow rule opens them
    /// (deny rules do not).
    pub fn icmp(&self) -> bool {
        self.allow.iter().any(|r| r.protos.icmp)
    }

    /// Whether connects must go through the supervisor: a rule names addresses, or
    /// denies, or UDP/ICMP is open. Otherwise Landlock alone enforces the allowed ports.
    pub fn trap_connect(&self) -> bool {
        self.remap
            || self.udp()
            || self.icmp()
            || self.allow.iter().any(|r| r.tcp_ports_any_ip().is_none())
    }

    /// TCP ports Landlock may allow by itself (when connects are not trapped).
    pub fn landlock_connect_ports(&self) -> Vec<u16> {
        if self.trap_connect() {
            return Vec::new();
        }
        let mut ports: Vec<u16> = self
            .allow
            .iter()
            .filter_map(NetSpec::tcp_ports_any_ip)
            .flatten()
            .copied()
            .collect();
        super::parse::sort_unique(&mut ports);
        ports
    }

    /// The decision for `proto` traffic to `ip`:`port`.
    pub fn allowed(&self, proto: Proto, ip: IpAddr, port: u16) -> bool {
        if !self.deny.is_empty() {
            return !self.deny.iter().any(|r| r.matches(proto, ip, port));
        }
        self.allow.iter().any(|r| r.matches(proto, ip, port))
    }

    /// Whether binds must go through the supervisor: to refuse denied ports, to check
    /// UDP ports, or to remap.
    pub fn trap_bind(&self) -> bool {
        self.remap || self.deny_bind != PortSet::None || self.udp()
    }

    /// Whether a socket swapped onto a continued call's descriptor could get past the
    /// rules (UDP or ICMP sockets exist, or only the trap refuses denied bind ports).
    pub fn guards_fds(&self) -> bool {
        self.udp() || self.icmp() || self.deny_bind != PortSet::None
    }

    /// The /etc/hosts the command sees when rules pinned host names: those names with
    /// their pinned addresses (and `localhost`, unless a rule pinned it), so that
    /// re-resolving cannot reach another address. `None` when no rule names a host.
    pub fn hosts_file(&self, name: &str) -> Option<String> {
        use std::fmt::Write;
        if self.pinned.is_empty() {
            return None;
        }
        let mut text = String::from("# served by sandlet: the host names its rules pinned\n");
        for (host, addrs) in &self.pinned {
            for a in addrs {
                let _ = writeln!(text, "{a}\t{host}");
            }
        }
        if !self.pinned.iter().any(|(h, _)| h == "localhost") {
            text.push_str("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        }
        let _ = writeln!(text, "127.0.1.1\t{name}");
        Some(text)
    }
}

/// The network rules of a spec: host names of `allow` resolved from `hosts` (the text
/// of /etc/hosts) and pinned, and what this version cannot enforce refused.
pub fn net_policy(
    allow: &[NetSpec],
    deny: &[NetSpec],
    deny_bind: PortSet,
    remap: bool,
    hosts: &str,
) -> Result<NetPolicy, PolicyError> {
    if !allow.is_empty() && !deny.is_empty() {
        return Err(PolicyError::Conflict {
            flag: "--net-allow",
            other: "--net-deny",
        });
    }
    let unsupported = |flag, spec: &NetSpec, why| PolicyError::Unsupported {
        flag,
        value: spec.to_string(),
        why,
    };
    let mut allowed = Vec::new();
    let mut pinned: Vec<(String, Vec<IpAddr>)> = Vec::new();
    for spec in allow {
        match spec.is_host() {
            Some(host) => {
                let addrs = net::lookup_hosts(hosts, host);
                if addrs.is_empty() {
                    return Err(unsupported(
                        "--net-allow",
                        spec,
                        "host not found in /etc/hosts (sandlet resolves names there only; use an IP)",
                    ));
                }
                allowed.extend(spec.resolved(&addrs));
                if !pinned.iter().any(|(h, _)| h == host) {
                    pinned.push((host.to_owned(), addrs));
                }
            }
            None => allowed.push(spec.clone()),
        }
    }
    if let Some(spec) = deny.iter().find(|s| s.is_host().is_some()) {
        return Err(unsupported(
            "--net-deny",
            spec,
            "--net-deny takes IP addresses or CIDRs, not host names; use an IP",
        ));
    }
    Ok(NetPolicy {
        allow: allowed,
        deny: deny.to_vec(),
        deny_bind,
        pinned,
        remap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(raw: &[&str]) -> Vec<NetSpec> {
        raw.iter()
            .map(|s| net::parse_net_spec(s).unwrap())
            .collect()
    }

    #[test]
    fn pinned_names_make_the_hosts_file() {
        let hosts = "127.0.0.1 localhost\n10.0.0.7 db db.lan\n10.0.0.8 db\n::1 localhost\n";
        let allow = specs(&["db:5432", "tcp://db:5433"]);
        let net = net_policy(&allow, &[], PortSet::None, false, hosts).unwrap();
        assert_eq!(
            net.pinned,
            vec![(
                "db".to_owned(),
                vec!["10.0.0.7".parse().unwrap(), "10.0.0.8".parse().unwrap()]
            )]
        );
        let text = net.hosts_file("box").unwrap();
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "10.0.0.7\tdb",
                "10.0.0.8\tdb",
                "127.0.0.1\tlocalhost",
                "::1\tlocalhost ip6-localhost ip6-loopback",
                "127.0.1.1\tbox"
            ]
        );
        let by_ip = specs(&["10.0.0.7:1"]);
        assert_eq!(
            net_policy(&by_ip, &[], PortSet::None, false, hosts)
                .unwrap()
                .hosts_file("box"),
            None
        );
    }

    fn net(allow: &[&str], deny: &[&str]) -> Result<NetPolicy, PolicyError> {
        net_policy(
            &specs(allow),
            &specs(deny),
            PortSet::None,
            false,
            "127.0.0.1 localhost\n::1 localhost\n",
        )
    }

    #[test]
    fn net_rules_decide_and_choose_the_enforcer() {
        use Proto::{Tcp, Udp};
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let none = net(&[], &[]).unwrap();
        assert!(!none.trap_connect() && none.landlock_connect_ports().is_empty());
        assert!(!none.allowed(Tcp, ip("127.0.0.1"), 80));
        assert!(!none.udp());

        let ports = net(&["tcp://:443", "tcp://*:80,443"], &[]).unwrap();
        assert!(!ports.trap_connect(), "TCP port-only rules are Landlock's");
        assert_eq!(ports.landlock_connect_ports(), vec![80, 443]);
        let both = net(&[":443"], &[]).unwrap();
        assert!(both.udp() && both.trap_connect(), "no scheme: TCP and UDP");
        assert!(both.allowed(Udp, ip("1.1.1.1"), 443));
        assert!(!both.allowed(Udp, ip("1.1.1.1"), 53));
        let udp = net(&["udp://1.1.1.1:53"], &[]).unwrap();
        assert!(udp.allowed(Udp, ip("1.1.1.1"), 53));
        assert!(
            !udp.allowed(Tcp, ip("1.1.1.1"), 53),
            "udp:// does not open TCP"
        );

        let addr = net(&["10.0.0.0/8:22", ":443"], &[]).unwrap();
        assert!(addr.trap_connect());
        assert!(addr.landlock_connect_ports().is_empty());
        assert!(addr.allowed(Tcp, ip("10.9.8.7"), 22));
        assert!(addr.allowed(Tcp, ip("1.2.3.4"), 443));
        assert!(!addr.allowed(Tcp, ip("11.0.0.1"), 22));
        assert!(addr.allowed(Tcp, ip("::ffff:10.0.0.1"), 22), "v4-mapped");

        let host = net(&["localhost:5432"], &[]).unwrap();
        assert!(host.allowed(Tcp, ip("127.0.0.1"), 5432));
        assert!(host.allowed(Tcp, ip("::1"), 5432));
        assert!(!host.allowed(Tcp, ip("127.0.0.2"), 5432));

        let deny = net(&[], &["169.254.169.254", "10.0.0.0/8:22"]).unwrap();
        assert!(deny.trap_connect() && deny.udp());
        assert!(!deny.allowed(Udp, ip("169.254.169.254"), 53));
        assert!(deny.allowed(Udp, ip("1.1.1.1"), 53));
        assert!(!deny.allowed(Tcp, ip("169.254.169.254"), 80));
        assert!(!deny.allowed(Tcp, ip("10.1.1.1"), 22));
        assert!(deny.allowed(Tcp, ip("10.1.1.1"), 23));

        assert!(net(&[":80"], &["1.2.3.4"]).is_err(), "allow + deny");
        let icmp = net(&["icmp://1.1.1.1"], &[]).unwrap();
        assert!(icmp.icmp() && !icmp.udp() && icmp.trap_connect());
        assert!(icmp.allowed(Proto::Icmp, ip("1.1.1.1"), 0));
        assert!(!icmp.allowed(Proto::Icmp, ip("1.1.1.2"), 0));
        assert!(!icmp.allowed(Tcp, ip("1.1.1.1"), 80));
        assert!(!deny.icmp(), "deny rules do not open ICMP");
        assert!(net(&["nowhere.invalid"], &[]).is_err(), "unresolvable");
        assert!(net(&[], &["localhost"]).is_err(), "deny takes IPs");
    }
}
