//! Network rule specs for `--net-allow` / `--net-deny`: `[scheme://]target[:ports]`.
//!
//! ```text
//! spec    = [scheme "://"] target [":" ports]
//! scheme  = tcp | udp | icmp        (none: tcp and udp; icmp takes no port)
//! target  = host name | IPv4 | "[" IPv6 "]" | IPv4 "/" len | "[" IPv6 "]/" len | * | empty
//! ports   = port ("," port)* | *    (omitted: every port)
//! ```
//!
//! Examples: `127.0.0.1:8080`, `:443`, `*:80,443`, `10.0.0.0/8:22`, `[::1]:8080`,
//! `[fe80::]/10:53`, `udp://1.1.1.1:53`, `tcp://example.com:443`, `icmp://8.8.8.8`, `*`.
//!
//! [`parse_net_spec`] turns one flag value into a [`NetSpec`], [`NetSpec::matches`]
//! decides whether a rule covers a connection, and [`lookup_hosts`] resolves names from
//! /etc/hosts-format text. Everything here is pure: nothing touches the network or the
//! filesystem. A spec's `Display` form is canonical and parses back to an equal value.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::parse::ParseError;

/// A protocol a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
}

impl Proto {
    /// The scheme that names it (`tcp`, `udp`, `icmp`).
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        }
    }
}

/// The protocols a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Protos {
    pub tcp: bool,
    pub udp: bool,
    pub icmp: bool,
}

impl Protos {
    /// TCP and UDP: what a spec without a scheme covers.
    pub const TCP_UDP: Protos = Protos {
        tcp: true,
        udp: true,
        icmp: false,
    };

    /// Just `proto` (a spec with a scheme).
    pub fn only(proto: Proto) -> Protos {
        Protos {
            tcp: proto == Proto::Tcp,
            udp: proto == Proto::Udp,
            icmp: proto == Proto::Icmp,
        }
    }

    /// Whether `proto` is covered.
    pub fn contains(self, proto: Proto) -> bool {
        match proto {
            Proto::Tcp => self.tcp,
            Proto::Udp => self.udp,
            Proto::Icmp => self.icmp,
        }
    }

    /// The protocol when exactly one is covered.
    fn single(self) -> Option<Proto> {
        match (self.tcp, self.udp, self.icmp) {
            (true, false, false) => Some(Proto::Tcp),
            (false, true, false) => Some(Proto::Udp),
            (false, false, true) => Some(Proto::Icmp),
            _ => None,
        }
    }
}

/// The addresses a rule covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// Every address (`*` or nothing before the `:`).
    Any,
    /// A host name, lowercase; resolve it with [`NetSpec::resolved`] before matching.
    Host(String),
    /// One address.
    Ip(IpAddr),
    /// A network: its address (host bits cleared) and prefix length (<= 32 for IPv4,
    /// <= 128 for IPv6).
    Cidr(IpAddr, u8),
}

impl Target {
    /// Whether `ip` is one of the target's addresses. An IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`), in the target or in `ip`, counts as the IPv4 address; so an
    /// IPv6 network shorter than /96 never holds one. A host name holds no address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match self {
            Target::Any => true,
            Target::Host(_) => false,
            Target::Ip(addr) => addr.to_canonical() == ip,
            Target::Cidr(net, len) => {
                let (net, len) = canonical_net(*net, *len);
                match (net, ip) {
                    (IpAddr::V4(n), IpAddr::V4(a)) => {
                        let mask = mask_v4(len);
                        u32::from(n) & mask == u32::from(a) & mask
                    }
                    (IpAddr::V6(n), IpAddr::V6(a)) => {
                        let mask = mask_v6(len);
                        u128::from(n) & mask == u128::from(a) & mask
                    }
                    _ => false,
                }
            }
        }
    }
}

/// A network written with an IPv4-mapped IPv6 address and a prefix of at least 96 is
/// the IPv4 network it maps.
fn canonical_net(net: IpAddr, len: u8) -> (IpAddr, u8) {
    match net {
        IpAddr::V6(a) if len >= 96 => match a.to_ipv4_mapped() {
            Some(v4) => (IpAddr::V4(v4), len - 96),
            None => (net, len),
        },
        _ => (net, len),
    }
}

/// The netmask of a `/len` IPv4 network (lengths above 32 count as 32).
fn mask_v4(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

/// The netmask of a `/len` IPv6 network (lengths above 128 count as 128).
fn mask_v6(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

/// `ip/len` with the host bits cleared.
fn network(ip: IpAddr, len: u8) -> Target {
    let net = match ip {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask_v4(len))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask_v6(len))),
    };
    Target::Cidr(net, len)
}

impl fmt::Display for Target {
    /// `*`, the host name, the address (IPv6 in brackets), or `addr/len` (`[addr]/len`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Any => f.write_str("*"),
            Target::Host(h) => f.write_str(h),
            Target::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Target::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Target::Cidr(IpAddr::V4(a), len) => write!(f, "{a}/{len}"),
            Target::Cidr(IpAddr::V6(a), len) => write!(f, "[{a}]/{len}"),
        }
    }
}

/// The ports a rule covers (ignored for ICMP).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ports {
    /// Every port (`*`, or no `:ports`).
    All,
    /// These ports: sorted, without duplicates, non-empty, none of them 0.
    List(Vec<u16>),
}

impl Ports {
    /// Whether `port` is covered.
    pub fn contains(&self, port: u16) -> bool {
        match self {
            Ports::All => true,
            Ports::List(ports) => ports.binary_search(&port).is_ok(),
        }
    }
}

impl fmt::Display for Ports {
    /// `*` or the comma-separated list.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ports::All => f.write_str("*"),
            Ports::List(ports) => {
                for (i, port) in ports.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{port}")?;
                }
                Ok(())
            }
        }
    }
}

/// One `--net-allow` / `--net-deny` rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetSpec {
    pub protos: Protos,
    pub target: Target,
    /// Always [`Ports::All`] for an ICMP rule.
    pub ports: Ports,
}

impl NetSpec {
    /// Whether this rule covers a connection or datagram of `proto` to `ip`:`port`
    /// (`port` is ignored for ICMP). IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are
    /// matched as the IPv4 address, both in the rule and in `ip`. A host-name target
    /// never matches: resolve it first with [`NetSpec::resolved`].
    pub fn matches(&self, proto: Proto, ip: IpAddr, port: u16) -> bool {
        self.protos.contains(proto)
            && (proto == Proto::Icmp || self.ports.contains(port))
            && self.target.contains(ip)
    }

    /// The port list when the rule names ports but no address (`:443`, `*:80,443`,
    /// `tcp://:22`), whatever its protocols; `None` otherwise.
    pub fn tcp_ports_any_ip(&self) -> Option<&[u16]> {
        match (&self.target, &self.ports) {
            (Target::Any, Ports::List(ports)) => Some(ports),
            _ => None,
        }
    }

    /// The host name, when the target is one.
    pub fn is_host(&self) -> Option<&str> {
        match &self.target {
            Target::Host(h) => Some(h),
            _ => None,
        }
    }

    /// A host-name rule turned into one rule per distinct address of `addrs` (same
    /// protocols and ports, [`Target::Ip`]); empty when `addrs` is. Any other rule is
    /// returned unchanged, alone.
    pub fn resolved(&self, addrs: &[IpAddr]) -> Vec<NetSpec> {
        if self.is_host().is_none() {
            return vec![self.clone()];
        }
        let mut out: Vec<NetSpec> = Vec::with_capacity(addrs.len());
        for &ip in addrs {
            if out.iter().all(|s| s.target != Target::Ip(ip)) {
                out.push(NetSpec {
                    protos: self.protos,
                    target: Target::Ip(ip),
                    ports: self.ports.clone(),
                });
            }
        }
        out
    }
}

impl fmt::Display for NetSpec {
    /// The canonical spec: the scheme only for a single protocol (nothing for TCP and
    /// UDP), the target (`*` for any address), then `:ports` unless every port is
    /// covered. Every value [`parse_net_spec`] returns displays as a spec that parses
    /// back to it; hand-built values it cannot return (TCP and ICMP together, ports on
    /// an ICMP rule, an empty port list, host bits in a network) do not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(proto) = self.protos.single() {
            write!(f, "{}://", proto.name())?;
        }
        write!(f, "{}", self.target)?;
        if let Ports::List(_) = self.ports {
            write!(f, ":{}", self.ports)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for NetSpec {
    type Err = ParseError;
    /// [`parse_net_spec`].
    fn from_str(s: &str) -> Result<NetSpec, ParseError> {
        parse_net_spec(s)
    }
}

/// Parses a `--net-allow` / `--net-deny` spec: `[tcp|udp|icmp://]target[:ports]` (see
/// the module documentation). Host names are stored lowercase; a network address has
/// its host bits cleared (`10.1.2.3/8` is `10.0.0.0/8`). Errors quote the spec.
pub fn parse_net_spec(s: &str) -> Result<NetSpec, ParseError> {
    parse_spec(s).map_err(|why| ParseError(format!("'{s}': {why}")))
}

const SCHEMES: [Proto; 3] = [Proto::Tcp, Proto::Udp, Proto::Icmp];

fn parse_spec(s: &str) -> Result<NetSpec, String> {
    if s.is_empty() {
        return Err("empty spec (e.g. 127.0.0.1:8080, :443, 10.0.0.0/8 or *)".into());
    }
    if s.trim() != s {
        return Err("leading or trailing whitespace".into());
    }
    let (protos, rest) = match s.split_once("://") {
        Some((scheme, rest)) if !scheme.contains([':', '/', '[', ']']) => {
            let protos = parse_scheme(scheme)?;
            if rest.contains("://") {
                return Err("more than one '://' (give one scheme)".into());
            }
            if rest.is_empty() {
                return Err(format!(
                    "nothing after '{scheme}://' (give an address, a host name, :PORTS or *)"
                ));
            }
            (protos, rest)
        }
        _ => {
            if let Some(hint) = missing_slash(s) {
                return Err(hint);
            }
            (Protos::TCP_UDP, s)
        }
    };
    let (target, ports) = split_target(rest)?;
    let ports = match ports {
        Some(_) if protos.icmp => return Err("icmp takes no port".into()),
        Some(list) => parse_port_list(list)?,
        None => Ports::All,
    };
    Ok(NetSpec {
        protos,
        target,
        ports,
    })
}

fn parse_scheme(scheme: &str) -> Result<Protos, String> {
    if scheme.is_empty() {
        return Err("missing scheme before '://' (tcp, udp or icmp)".into());
    }
    SCHEMES
        .into_iter()
        .find(|p| scheme.eq_ignore_ascii_case(p.name()))
        .map(Protos::only)
        .ok_or_else(|| format!("unknown scheme '{scheme}' (tcp, udp or icmp)"))
}

/// The hint for a scheme written with one slash too few (`udp:/x`, `tcp:1.2.3.4`
/// stays a host named `tcp` with port `1.2.3.4`, refused as a port).
fn missing_slash(s: &str) -> Option<String> {
    let (head, tail) = s.split_once(':')?;
    let tail = tail.strip_prefix('/')?;
    let proto = SCHEMES
        .into_iter()
        .find(|p| head.eq_ignore_ascii_case(p.name()))?;
    let tail = tail.strip_prefix('/').unwrap_or(tail);
    Some(format!(
        "malformed scheme: did you mean '{}://{tail}'?",
        proto.name()
    ))
}

/// Splits off and parses the target; returns the text after its `:`, if any.
fn split_target(rest: &str) -> Result<(Target, Option<&str>), String> {
    if let Some(inner) = rest.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return Err("missing ']' after the IPv6 address".into());
        };
        let ip = IpAddr::V6(parse_v6(addr)?);
        if after.is_empty() {
            return Ok((Target::Ip(ip), None));
        }
        if let Some(ports) = after.strip_prefix(':') {
            return Ok((Target::Ip(ip), Some(ports)));
        }
        if let Some(cidr) = after.strip_prefix('/') {
            let (len, ports) = split_ports(cidr);
            let len = parse_prefix(len, 128, "IPv6")?;
            return Ok((network(ip, len), ports));
        }
        return Err(format!(
            "unexpected '{after}' after ']' (expected :PORTS or /LENGTH)"
        ));
    }
    if rest.bytes().filter(|&b| b == b':').count() > 1 {
        return Err(too_many_colons(rest));
    }
    let (target, ports) = split_ports(rest);
    Ok((parse_target(target)?, ports))
}

fn split_ports(s: &str) -> (&str, Option<&str>) {
    match s.split_once(':') {
        Some((target, ports)) => (target, Some(ports)),
        None => (s, None),
    }
}

fn parse_v6(addr: &str) -> Result<Ipv6Addr, String> {
    if addr.is_empty() {
        return Err("nothing between '[' and ']' (expected an IPv6 address)".into());
    }
    if let Ok(ip) = addr.parse::<Ipv6Addr>() {
        return Ok(ip);
    }
    if addr.parse::<Ipv4Addr>().is_ok() {
        return Err(format!(
            "brackets are for IPv6 addresses only; write {addr} without them"
        ));
    }
    Err(format!("'{addr}' is not a valid IPv6 address"))
}

/// The error for a target with several `:`, with the bracketed form when the text is
/// an IPv6 address (optionally `/len` and `:ports`) written without brackets.
fn too_many_colons(rest: &str) -> String {
    let bracketed = |a: &str| -> Option<String> {
        let (addr, len) = match a.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (a, None),
        };
        addr.parse::<Ipv6Addr>().ok()?;
        Some(match len {
            Some(len) => format!("[{addr}]/{len}"),
            None => format!("[{addr}]"),
        })
    };
    let example = rest
        .rsplit_once(':')
        .and_then(|(a, ports)| Some(format!("{}:{ports}", bracketed(a)?)))
        .or_else(|| bracketed(rest));
    match example {
        Some(e) => format!("IPv6 addresses must be in brackets, e.g. {e}"),
        None => "more than one ':' (the form is [scheme://]target[:ports]; \
                 IPv6 addresses go in brackets, e.g. [::1]:80)"
            .into(),
    }
}

fn parse_prefix(len: &str, max: u8, family: &str) -> Result<u8, String> {
    if len.is_empty() {
        return Err("missing prefix length after '/'".into());
    }
    if !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{len}' is not a prefix length"));
    }
    match len.parse::<u8>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!(
            "prefix length {len} is out of range for {family} (0-{max})"
        )),
    }
}

/// A target without brackets: any, an IPv4 address or network, or a host name.
fn parse_target(t: &str) -> Result<Target, String> {
    if t.is_empty() || t == "*" {
        return Ok(Target::Any);
    }
    if let Some((addr, len)) = t.split_once('/') {
        let Ok(ip) = addr.parse::<Ipv4Addr>() else {
            return Err(format!(
                "'{addr}' is not an IPv4 address, so it cannot take a prefix length \
                 (IPv6 networks are written [addr]/len)"
            ));
        };
        let len = parse_prefix(len, 32, "IPv4")?;
        return Ok(network(IpAddr::V4(ip), len));
    }
    if let Ok(ip) = t.parse::<Ipv4Addr>() {
        return Ok(Target::Ip(IpAddr::V4(ip)));
    }
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("'{t}' is not a valid IPv4 address"));
    }
    parse_hostname(t).map(Target::Host)
}

/// Checks a host name (letters, digits, `-` and `.`; labels of 1 to 63 characters that
/// neither start nor end with `-`; at most 253 in all; at least one letter) and
/// returns it lowercase.
fn parse_hostname(t: &str) -> Result<String, String> {
    if let Some(c) = t
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        return Err(format!(
            "invalid character {c:?} in host name (letters, digits, '-' and '.' only)"
        ));
    }
    if t.len() > 253 {
        return Err(format!(
            "host name is {} characters long (at most 253)",
            t.len()
        ));
    }
    if t.starts_with('.') || t.ends_with('.') {
        return Err("a host name cannot start or end with '.'".into());
    }
    for label in t.split('.') {
        if label.is_empty() {
            return Err("empty label in host name ('..')".into());
        }
        if label.len() > 63 {
            return Err(format!(
                "host name label '{label}' is {} characters long (at most 63)",
                label.len()
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "host name label '{label}' cannot start or end with '-'"
            ));
        }
    }
    if !t.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Err(format!(
            "'{t}' is neither an IPv4 address nor a host name (which needs a letter)"
        ));
    }
    Ok(t.to_ascii_lowercase())
}

/// `*` or a comma-separated list of ports 1-65535 (sorted and deduplicated).
fn parse_port_list(list: &str) -> Result<Ports, String> {
    if list.is_empty() {
        return Err("missing port after ':'".into());
    }
    if list == "*" {
        return Ok(Ports::All);
    }
    let mut ports = Vec::new();
    for item in list.split(',') {
        if item == "*" {
            return Err("'*' cannot be mixed with port numbers".into());
        }
        if item.is_empty() {
            return Err(format!("empty port in the list '{list}'"));
        }
        if !item.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("'{item}' is not a port number"));
        }
        match item.parse::<u16>() {
            Ok(port) if port != 0 => ports.push(port),
            _ => return Err(format!("port {item} is out of range (1-65535)")),
        }
    }
    super::parse::sort_unique(&mut ports);
    Ok(Ports::List(ports))
}

/// Looks `host` up in /etc/hosts-format text (`#` starts a comment; fields are
/// whitespace-separated; the first is an address, the rest its names and aliases;
/// names compare case-insensitively). Returns every address listed for it, in file
/// order, without duplicates. Lines whose address does not parse (e.g. with a
/// `%zone` suffix) are skipped.
pub fn lookup_hosts(hosts_text: &str, host: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for line in hosts_text.lines() {
        let line = line.split_once('#').map_or(line, |(data, _)| data);
        let mut fields = line.split_whitespace();
        let Some(Ok(addr)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        if fields.any(|name| name.eq_ignore_ascii_case(host)) && !found.contains(&addr) {
            found.push(addr);
        }
    }
    found
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;
