//! Unit tests of the endpoint-spec parser (`net.rs`).

use super::*;

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse().unwrap())
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse().unwrap())
}

fn list(ports: &[u16]) -> Ports {
    Ports::List(ports.to_vec())
}

fn host(h: &str) -> Target {
    Target::Host(h.into())
}

const TCP: Protos = Protos {
    tcp: true,
    udp: false,
    icmp: false,
};
const UDP: Protos = Protos {
    tcp: false,
    udp: true,
    icmp: false,
};
const ICMP: Protos = Protos {
    tcp: false,
    udp: false,
    icmp: true,
};
const BOTH: Protos = Protos::TCP_UDP;

fn valid() -> Vec<(String, NetSpec)> {
    let spec = |protos, target, ports| NetSpec {
        protos,
        target,
        ports,
    };
    let long_host = "a".repeat(63) + ".com";
    let mut cases: Vec<(String, NetSpec)> = [
        (
            "127.0.0.1:8080",
            spec(BOTH, Target::Ip(v4("127.0.0.1")), list(&[8080])),
        ),
        (":443", spec(BOTH, Target::Any, list(&[443]))),
        ("*:80,443", spec(BOTH, Target::Any, list(&[80, 443]))),
        (
            "10.0.0.0/8",
            spec(BOTH, Target::Cidr(v4("10.0.0.0"), 8), Ports::All),
        ),
        (
            "10.0.0.0/8:22",
            spec(BOTH, Target::Cidr(v4("10.0.0.0"), 8), list(&[22])),
        ),
        (
            "[::1]:8080",
            spec(BOTH, Target::Ip(v6("::1")), list(&[8080])),
        ),
        (
            "[fe80::]/10:53",
            spec(BOTH, Target::Cidr(v6("fe80::"), 10), list(&[53])),
        ),
        (
            "udp://1.1.1.1:53",
            spec(UDP, Target::Ip(v4("1.1.1.1")), list(&[53])),
        ),
        (
            "tcp://example.com:443",
            spec(TCP, host("example.com"), list(&[443])),
        ),
        (
            "icmp://8.8.8.8",
            spec(ICMP, Target::Ip(v4("8.8.8.8")), Ports::All),
        ),
        (
            "localhost:8080",
            spec(BOTH, host("localhost"), list(&[8080])),
        ),
        ("example.com", spec(BOTH, host("example.com"), Ports::All)),
        ("*", spec(BOTH, Target::Any, Ports::All)),
        ("*:*", spec(BOTH, Target::Any, Ports::All)),
        ("tcp://*", spec(TCP, Target::Any, Ports::All)),
        ("udp://:53", spec(UDP, Target::Any, list(&[53]))),
        ("icmp://*", spec(ICMP, Target::Any, Ports::All)),
        (
            "icmp://[::1]",
            spec(ICMP, Target::Ip(v6("::1")), Ports::All),
        ),
        (
            "10.1.2.3/8",
            spec(BOTH, Target::Cidr(v4("10.0.0.0"), 8), Ports::All),
        ),
        (
            "[2001:db8::1]/32",
            spec(BOTH, Target::Cidr(v6("2001:db8::"), 32), Ports::All),
        ),
        (
            "0.0.0.0/0",
            spec(BOTH, Target::Cidr(v4("0.0.0.0"), 0), Ports::All),
        ),
        ("[::]/0", spec(BOTH, Target::Cidr(v6("::"), 0), Ports::All)),
        (
            "Example.COM:80",
            spec(BOTH, host("example.com"), list(&[80])),
        ),
        (
            "TCP://1.2.3.4",
            spec(TCP, Target::Ip(v4("1.2.3.4")), Ports::All),
        ),
        (
            "1.2.3.4:443,80,443",
            spec(BOTH, Target::Ip(v4("1.2.3.4")), list(&[80, 443])),
        ),
        (
            "1.2.3.4:*",
            spec(BOTH, Target::Ip(v4("1.2.3.4")), Ports::All),
        ),
        (
            "1.2.3.4/32:65535,1",
            spec(BOTH, Target::Cidr(v4("1.2.3.4"), 32), list(&[1, 65535])),
        ),
        (
            "[::ffff:10.0.0.1]:80",
            spec(BOTH, Target::Ip(v6("::ffff:10.0.0.1")), list(&[80])),
        ),
        ("[::1]", spec(BOTH, Target::Ip(v6("::1")), Ports::All)),
        (
            "udp://[::1]/128:53",
            spec(UDP, Target::Cidr(v6("::1"), 128), list(&[53])),
        ),
        (
            "255.255.255.255:065535",
            spec(BOTH, Target::Ip(v4("255.255.255.255")), list(&[65535])),
        ),
        ("a", spec(BOTH, host("a"), Ports::All)),
        ("3com.com", spec(BOTH, host("3com.com"), Ports::All)),
        (
            "my-host.local:22",
            spec(BOTH, host("my-host.local"), list(&[22])),
        ),
        ("udp://*:5353,53", spec(UDP, Target::Any, list(&[53, 5353]))),
    ]
    .into_iter()
    .map(|(s, spec)| (s.to_string(), spec))
    .collect();
    cases.push((long_host.clone(), spec(BOTH, host(&long_host), Ports::All)));
    let host253 = vec!["a".repeat(63); 3].join(".") + "." + &"b".repeat(61);
    assert_eq!(host253.len(), 253);
    cases.push((host253.clone(), spec(BOTH, host(&host253), Ports::All)));
    cases
}

#[test]
fn valid_specs_parse_to_their_values() {
    let cases = valid();
    assert!(cases.len() >= 25);
    for (input, want) in cases {
        assert_eq!(parse_net_spec(&input), Ok(want), "{input:?}");
    }
}

#[test]
fn display_round_trips() {
    for (input, spec) in valid() {
        let shown = spec.to_string();
        assert_eq!(
            parse_net_spec(&shown).as_ref(),
            Ok(&spec),
            "{input:?} displays as {shown:?}"
        );
    }
    let shown = |s: &str| parse_net_spec(s).unwrap().to_string();
    assert_eq!(shown(":443"), "*:443");
    assert_eq!(shown("*:*"), "*");
    assert_eq!(
        shown("TCP://Example.COM:443,80"),
        "tcp://example.com:80,443"
    );
    assert_eq!(shown("10.1.2.3/8:22"), "10.0.0.0/8:22");
    assert_eq!(shown("[FE80::1]/10:53"), "[fe80::]/10:53");
    assert_eq!(shown("icmp://[::1]"), "icmp://[::1]");
    assert_eq!(shown("udp://1.1.1.1:53"), "udp://1.1.1.1:53");
}

#[test]
fn malformed_specs_are_errors() {
    let label64 = "a".repeat(64) + ".com";
    let host254 = vec!["a".repeat(63); 3].join(".") + "." + &"b".repeat(62);
    assert_eq!(host254.len(), 254);
    let bad: Vec<&str> = vec![
        "",
        ":",
        "a:",
        "*:",
        "1.2.3.4:",
        "1.2.3.4:0",
        "1.2.3.4:65536",
        "1.2.3.4:99999999999999999999",
        "1.2.3.4:80,",
        "1.2.3.4:,80",
        "1.2.3.4:+80",
        "1.2.3.4:80-90",
        "::1:80",
        "fe80::1",
        "fe80::/10",
        "[::1",
        "[::1]x",
        "[::1]:",
        "[::1]/",
        "[]",
        "[zz::1]:80",
        "[1.2.3.4]:80",
        "[fe80::1%eth0]",
        "1.2.3.4/33",
        "1.2.3.4/",
        "1.2.3.4/x",
        "1.2.3.4/8/8",
        "[::1]/129",
        "[::1]/300",
        "example.com/8",
        "*/8",
        "icmp://1.2.3.4:80",
        "icmp://*:*",
        "icmp://:",
        "ftp://a",
        "://a",
        "tcp://",
        "udp://tcp://x",
        "a..b",
        ".a.com",
        "a.com.",
        "-a.com",
        "a-.com",
        "a_b.com",
        "é.com",
        &label64,
        &host254,
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "1-2",
        "*:*,80",
        "*:80,*",
        "host:80:90",
        "udp:/x",
        "tcp:/1.2.3.4:80",
        " 1.2.3.4",
        "1.2.3.4 ",
        "1.2.3.4: 80",
    ];
    assert!(bad.len() >= 25);
    for s in bad {
        assert!(parse_net_spec(s).is_err(), "{s:?} accepted");
    }
}

#[test]
fn error_messages_quote_the_spec_and_say_why() {
    let msg = |s: &str| parse_net_spec(s).unwrap_err().0;
    assert_eq!(
        msg("::1:80"),
        "'::1:80': IPv6 addresses must be in brackets, e.g. [::1]:80"
    );
    assert_eq!(
        msg("fe80::/10:53"),
        "'fe80::/10:53': IPv6 addresses must be in brackets, e.g. [fe80::]/10:53"
    );
    assert_eq!(
        msg("tcp://:0"),
        "'tcp://:0': port 0 is out of range (1-65535)"
    );
    assert_eq!(
        msg("icmp://1.2.3.4:80"),
        "'icmp://1.2.3.4:80': icmp takes no port"
    );
    assert_eq!(
        msg("ftp://x"),
        "'ftp://x': unknown scheme 'ftp' (tcp, udp or icmp)"
    );
    assert_eq!(
        msg("10.0.0.0/33"),
        "'10.0.0.0/33': prefix length 33 is out of range for IPv4 (0-32)"
    );
    assert_eq!(
        msg("[::1]/129"),
        "'[::1]/129': prefix length 129 is out of range for IPv6 (0-128)"
    );
    assert_eq!(
        msg("*:80,*"),
        "'*:80,*': '*' cannot be mixed with port numbers"
    );
    assert!(msg("").contains("empty spec"));
    assert!(msg(":").contains("missing port after ':'"));
    assert!(msg("a:").contains("missing port after ':'"));
    assert!(msg("udp:/x").contains("udp://x"));
    assert!(msg("[::1]x").contains("'x'"));
    assert!(msg("1.2.3").contains("not a valid IPv4 address"));
    assert!(msg("host:80:90").contains("more than one ':'"));
    assert!(msg(" 1.2.3.4").contains("whitespace"));
    assert!(msg("udp://tcp://x").contains("more than one '://'"));
}

#[test]
fn matches_protocols_ports_and_addresses() {
    let r = parse_net_spec("127.0.0.1:80,443").unwrap();
    let lo = v4("127.0.0.1");
    assert!(r.matches(Proto::Tcp, lo, 80));
    assert!(r.matches(Proto::Udp, lo, 443));
    assert!(
        !r.matches(Proto::Icmp, lo, 0),
        "no scheme is tcp and udp only"
    );
    assert!(!r.matches(Proto::Tcp, lo, 81));
    assert!(!r.matches(Proto::Tcp, v4("127.0.0.2"), 80));
    assert!(!r.matches(Proto::Tcp, v6("::1"), 80));

    let tcp = parse_net_spec("tcp://:443").unwrap();
    assert!(tcp.matches(Proto::Tcp, v6("2001:db8::1"), 443));
    assert!(tcp.matches(Proto::Tcp, v4("8.8.8.8"), 443));
    assert!(!tcp.matches(Proto::Udp, v4("8.8.8.8"), 443));

    let icmp = parse_net_spec("icmp://8.8.8.8").unwrap();
    assert!(icmp.matches(Proto::Icmp, v4("8.8.8.8"), 0));
    assert!(
        icmp.matches(Proto::Icmp, v4("8.8.8.8"), 1234),
        "port ignored"
    );
    assert!(!icmp.matches(Proto::Tcp, v4("8.8.8.8"), 80));

    let all = parse_net_spec("*").unwrap();
    for ip in [v4("0.0.0.0"), v6("::"), v6("ff02::1")] {
        assert!(all.matches(Proto::Tcp, ip, 0) && all.matches(Proto::Udp, ip, 65535));
    }

    let h = parse_net_spec("localhost").unwrap();
    assert!(!h.matches(Proto::Tcp, lo, 80), "host targets never match");
}

#[test]
fn matches_v4_mapped_both_ways() {
    let mapped = v6("::ffff:10.0.0.1");
    let rule = parse_net_spec("10.0.0.1:80").unwrap();
    assert!(rule.matches(Proto::Tcp, mapped, 80));
    assert!(
        !rule.matches(Proto::Tcp, v6("::10.0.0.1"), 80),
        "not v4-compatible"
    );
    let rule = parse_net_spec("[::ffff:10.0.0.1]:80").unwrap();
    assert!(rule.matches(Proto::Tcp, v4("10.0.0.1"), 80));
    assert!(rule.matches(Proto::Tcp, mapped, 80));
    assert!(!rule.matches(Proto::Tcp, v4("10.0.0.2"), 80));

    let net = parse_net_spec("10.0.0.0/8").unwrap();
    assert!(net.matches(Proto::Tcp, v6("::ffff:10.9.8.7"), 1));
    assert!(!net.matches(Proto::Tcp, v6("::ffff:11.0.0.0"), 1));
    let net = parse_net_spec("[::ffff:10.0.0.0]/104").unwrap();
    assert!(net.matches(Proto::Tcp, v4("10.255.255.255"), 1));
    assert!(net.matches(Proto::Tcp, v6("::ffff:10.1.1.1"), 1));
    assert!(!net.matches(Proto::Tcp, v4("11.0.0.0"), 1));
    // An IPv6 network wider than the mapped range is an IPv6 rule: IPv4 traffic
    // (mapped or not) is not in it.
    let v6_all = parse_net_spec("[::]/0").unwrap();
    assert!(!v6_all.matches(Proto::Tcp, v4("1.2.3.4"), 1));
    assert!(!v6_all.matches(Proto::Tcp, v6("::ffff:1.2.3.4"), 1));
}

#[test]
fn cidr_boundaries() {
    let net = parse_net_spec("10.0.0.0/8").unwrap();
    assert!(net.matches(Proto::Tcp, v4("10.0.0.0"), 1));
    assert!(net.matches(Proto::Tcp, v4("10.255.255.255"), 1));
    assert!(!net.matches(Proto::Tcp, v4("11.0.0.0"), 1));
    assert!(!net.matches(Proto::Tcp, v4("9.255.255.255"), 1));
    let host = parse_net_spec("192.168.1.7/32").unwrap();
    assert!(host.matches(Proto::Udp, v4("192.168.1.7"), 1));
    assert!(!host.matches(Proto::Udp, v4("192.168.1.6"), 1));
    let odd = parse_net_spec("192.168.1.77/27:22").unwrap();
    assert_eq!(odd.target, Target::Cidr(v4("192.168.1.64"), 27));
    assert!(odd.matches(Proto::Tcp, v4("192.168.1.64"), 22));
    assert!(odd.matches(Proto::Tcp, v4("192.168.1.95"), 22));
    assert!(!odd.matches(Proto::Tcp, v4("192.168.1.96"), 22));
    assert!(!odd.matches(Proto::Tcp, v4("192.168.1.95"), 23));
    let v6net = parse_net_spec("[fe80::]/10").unwrap();
    assert!(v6net.matches(Proto::Tcp, v6("fe80::1"), 1));
    assert!(v6net.matches(Proto::Tcp, v6("febf:ffff::ffff"), 1));
    assert!(!v6net.matches(Proto::Tcp, v6("fec0::"), 1));
    assert!(!v6net.matches(Proto::Tcp, v4("254.128.0.0"), 1));
    let one = parse_net_spec("[::1]/128").unwrap();
    assert!(one.matches(Proto::Tcp, v6("::1"), 1));
    assert!(!one.matches(Proto::Tcp, v6("::2"), 1));
}

#[test]
fn prefix_zero_matches_its_whole_family() {
    let any4 = parse_net_spec("0.0.0.0/0").unwrap();
    for ip in ["0.0.0.0", "1.2.3.4", "255.255.255.255"] {
        assert!(any4.matches(Proto::Tcp, v4(ip), 80), "{ip}");
    }
    assert!(any4.matches(Proto::Tcp, v6("::ffff:1.2.3.4"), 80));
    assert!(!any4.matches(Proto::Tcp, v6("::1"), 80));
    // Host bits are cleared: 1.2.3.4/0 is 0.0.0.0/0.
    assert_eq!(parse_net_spec("1.2.3.4/0"), Ok(any4));
    let any6 = parse_net_spec("[::]/0").unwrap();
    for ip in [
        "::",
        "::1",
        "2001:db8::1",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ] {
        assert!(any6.matches(Proto::Udp, v6(ip), 80), "{ip}");
    }
    assert!(!any6.matches(Proto::Udp, v4("1.2.3.4"), 80));
}

#[test]
fn hand_built_out_of_range_prefix_does_not_panic() {
    let rule = NetSpec {
        protos: BOTH,
        target: Target::Cidr(v4("10.0.0.0"), 200),
        ports: Ports::All,
    };
    assert!(rule.matches(Proto::Tcp, v4("10.0.0.0"), 1));
    assert!(!rule.matches(Proto::Tcp, v4("10.0.0.1"), 1));
}

#[test]
fn accessors_and_resolution() {
    let p = |s| parse_net_spec(s).unwrap();
    assert_eq!(p(":443").tcp_ports_any_ip(), Some(&[443][..]));
    assert_eq!(p("*:80,22").tcp_ports_any_ip(), Some(&[22, 80][..]));
    assert_eq!(p("udp://:53").tcp_ports_any_ip(), Some(&[53][..]));
    assert_eq!(p("*").tcp_ports_any_ip(), None);
    assert_eq!(p("1.2.3.4:80").tcp_ports_any_ip(), None);
    assert_eq!(p("Localhost:80").is_host(), Some("localhost"));
    assert_eq!(p("1.2.3.4").is_host(), None);

    let rule = p("tcp://example.com:443");
    let addrs = [v4("93.184.216.34"), v6("2606:2800::1"), v4("93.184.216.34")];
    let got = rule.resolved(&addrs);
    assert_eq!(
        got,
        vec![p("tcp://93.184.216.34:443"), p("tcp://[2606:2800::1]:443")]
    );
    assert!(got[0].matches(Proto::Tcp, v4("93.184.216.34"), 443));
    assert!(rule.resolved(&[]).is_empty());
    let ip = p("1.2.3.4:80");
    assert_eq!(ip.resolved(&addrs), vec![ip.clone()]);
}

#[test]
fn hosts_file_lookup() {
    let hosts = "\
# The comment mentions myhost 10.9.9.9
127.0.0.1\tlocalhost localhost.localdomain
::1     localhost ip6-localhost   # loopback
10.0.0.5  MyHost myhost.lan  # alias
   10.0.0.6 other myhost
10.0.0.5  myhost
fe80::1%eth0 myhost
not-an-ip myhost
#10.0.0.7 myhost
2001:db8::5 MYHOST

";
    assert_eq!(
        lookup_hosts(hosts, "localhost"),
        vec![v4("127.0.0.1"), v6("::1")]
    );
    assert_eq!(
        lookup_hosts(hosts, "myhost"),
        vec![v4("10.0.0.5"), v4("10.0.0.6"), v6("2001:db8::5")]
    );
    assert_eq!(lookup_hosts(hosts, "MYHOST.LAN"), vec![v4("10.0.0.5")]);
    assert_eq!(lookup_hosts(hosts, "ip6-localhost"), vec![v6("::1")]);
    assert!(lookup_hosts(hosts, "loopback").is_empty());
    assert!(lookup_hosts(hosts, "alias").is_empty());
    assert!(lookup_hosts(hosts, "nowhere").is_empty());
    assert!(lookup_hosts(hosts, "").is_empty());
    assert!(lookup_hosts("", "localhost").is_empty());
}
