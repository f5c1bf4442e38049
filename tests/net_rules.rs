//! `--net-allow` / `--net-deny` / `--net-deny-bind`: TCP rules by address, enforced by
//! Landlock (ports only) or by the supervisor (connects and binds done on the caller's
//! behalf). Loopback only; every port comes from binding port 0 in the test.

mod util;

use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, UdpSocket};
use std::time::Duration;

use util::{bare, sandboxed, sandboxed_output, Mode};

/// A listener on `ip` (kept open by the caller) and its port.
fn listen(ip: &str) -> Option<(TcpListener, String)> {
    let l = TcpListener::bind((ip, 0)).ok()?;
    let port = l.local_addr().unwrap().port().to_string();
    Some((l, port))
}

fn connect(mode: Mode, flags: &[&str], ip: &str, port: &str) -> String {
    sandboxed(mode, flags, &["tcp_connect", ip, port])
}

#[test]
fn allow_by_address_and_port() {
    let (_p, p) = listen("127.0.0.1").unwrap();
    let (_q, q) = listen("127.0.0.1").unwrap();
    for mode in Mode::ALL {
        assert_eq!(
            bare(mode, &["tcp_connect", "127.0.0.1", &q]),
            "ok",
            "control"
        );
        let rule = format!("127.0.0.1:{p}");
        let flags = ["--net-allow", rule.as_str()];
        assert_eq!(
            connect(mode, &flags, "127.0.0.1", &p),
            "ok",
            "{mode:?} {rule}"
        );
        assert_eq!(
            connect(mode, &flags, "127.0.0.1", &q),
            "err ECONNREFUSED",
            "{mode:?}: {q} is not in {rule}"
        );
        // Another address, same port: refused (127.0.0.2 is loopback too).
        if bare(mode, &["tcp_connect", "127.0.0.2", &p]).starts_with("err ECONNREFUSED")
            || bare(mode, &["tcp_connect", "127.0.0.2", &p]) == "ok"
        {
            let rule2 = format!("127.0.0.2:{p}");
            assert_eq!(
                connect(mode, &["--net-allow", &rule2], "127.0.0.1", &p),
                "err ECONNREFUSED",
                "{mode:?}: 127.0.0.1 is not {rule2}"
            );
        }
    }
}

#[test]
fn port_only_rules_use_landlock() {
    let (_p, p) = listen("127.0.0.1").unwrap();
    let (_q, q) = listen("127.0.0.1").unwrap();
    for mode in Mode::ALL {
        let rule = format!("tcp://:{p}");
        let flags = ["--net-allow", rule.as_str()];
        assert_eq!(
            connect(mode, &flags, "127.0.0.1", &p),
            "ok",
            "{mode:?} {rule}"
        );
        // Landlock's refusal, not the supervisor's: EACCES.
        assert_eq!(
            connect(mode, &flags, "127.0.0.1", &q),
            "err EACCES",
            "{mode:?}"
        );
        // Without a scheme the rule covers UDP too, so the supervisor decides.
        let both = format!(":{p}");
        let flags = ["--net-allow", both.as_str()];
        assert_eq!(
            connect(mode, &flags, "127.0.0.1", &p),
            "ok",
            "{mode:?} {both}"
        );
        assert_eq!(
            connect(mode, &flags, "127.0.0.1", &q),
            "err ECONNREFUSED",
            "{mode:?}"
        );
    }
}

#[test]
fn cidr_ipv6_and_hostnames() {
    let (_p, p) = listen("127.0.0.1").unwrap();
    for mode in Mode::ALL {
        let cidr = format!("127.0.0.0/8:{p}");
        assert_eq!(
            connect(mode, &["--net-allow", &cidr], "127.0.0.1", &p),
            "ok"
        );
        let other = format!("10.0.0.0/8:{p}");
        assert_eq!(
            connect(mode, &["--net-allow", &other], "127.0.0.1", &p),
            "err ECONNREFUSED"
        );
        // localhost comes from /etc/hosts.
        let host = format!("localhost:{p}");
        assert_eq!(
            connect(mode, &["--net-allow", &host], "127.0.0.1", &p),
            "ok"
        );
    }
    if let Some((_v6, p6)) = listen("::1") {
        for mode in Mode::ALL {
            let rule = format!("[::1]:{p6}");
            assert_eq!(connect(mode, &["--net-allow", &rule], "::1", &p6), "ok");
            let v4only = format!("127.0.0.1:{p6}");
            assert_eq!(
                connect(mode, &["--net-allow", &v4only], "::1", &p6),
                "err ECONNREFUSED"
            );
        }
    }
}

#[test]
fn v4_mapped_addresses_match_as_ipv4() {
    // An IPv6 socket connecting to ::ffff:127.0.0.1 is matched against the IPv4 rule.
    let Ok(l) = TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)) else {
        util::skip("no dual-stack IPv6 listener");
        return;
    };
    let p = l.local_addr().unwrap().port().to_string();
    for mode in Mode::ALL {
        let mapped = "::ffff:127.0.0.1";
        if bare(mode, &["tcp_connect", mapped, &p]) != "ok" {
            util::skip("v4-mapped connect not possible here");
            return;
        }
        let allow = format!("127.0.0.1:{p}");
        assert_eq!(connect(mode, &["--net-allow", &allow], mapped, &p), "ok");
        let deny = format!("127.0.0.1:{p}");
        assert_eq!(
            connect(mode, &["--net-deny", &deny], mapped, &p),
            "err ECONNREFUSED"
        );
    }
}

#[test]
fn the_any_address_is_matched_as_this_host() {
    // A connect or send to 0.0.0.0, :: or ::ffff:0.0.0.0 reaches the local host: the
    // rules see the loopback address the kernel will use (hazard 16).
    let Ok(l) = TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)) else {
        util::skip("no dual-stack IPv6 listener");
        return;
    };
    let p = l.local_addr().unwrap().port().to_string();
    let (us, u) = udp_server();
    for mode in Mode::ALL {
        for any in ["0.0.0.0", "::", "::ffff:0.0.0.0"] {
            assert_eq!(bare(mode, &["tcp_connect", any, &p]), "ok", "control {any}");
        }
        let v4 = ["--net-deny", "127.0.0.0/8"];
        assert_eq!(connect(mode, &v4, "127.0.0.1", &p), "err ECONNREFUSED");
        for any in ["0.0.0.0", "::ffff:0.0.0.0"] {
            assert_eq!(
                connect(mode, &v4, any, &p),
                "err ECONNREFUSED",
                "{mode:?} {any}"
            );
        }
        let v6 = ["--net-deny", "[::1]"];
        assert_eq!(connect(mode, &v6, "::", &p), "err ECONNREFUSED", "{mode:?}");
        assert_eq!(
            connect(mode, &v6, "0.0.0.0", &p),
            "ok",
            "{mode:?}: v4 is not ::1"
        );
        // An allow rule on loopback covers the any address the same way.
        let allow = format!("tcp://127.0.0.1:{p}");
        assert_eq!(connect(mode, &["--net-allow", &allow], "0.0.0.0", &p), "ok");
        let other = format!("tcp://10.0.0.1:{p}");
        assert_eq!(
            connect(mode, &["--net-allow", &other], "0.0.0.0", &p),
            "err ECONNREFUSED"
        );
        // UDP: sendto, sendmsg, sendmmsg and connect+send.
        let send = ["udp_send", "0.0.0.0", u.as_str()];
        assert_eq!(bare(mode, &send), "ok", "control");
        assert!(got_datagram(&us), "control: the datagram did not arrive");
        assert_eq!(sandboxed(mode, &v4, &send), "err EACCES", "{mode:?}");
        assert!(!got_datagram(&us), "{mode:?}: a denied datagram arrived");
        for how in ["sendmsg", "sendmmsg", "connect"] {
            let args = ["udp_msg", how, "0.0.0.0", u.as_str()];
            assert_eq!(sandboxed(mode, &v4, &args), "err EACCES", "{mode:?} {how}");
            assert!(!got_datagram(&us), "{mode:?}: {how} reached a denied host");
        }
    }
}

#[test]
fn deny_rules_block_only_what_they_name() {
    let (_p, p) = listen("127.0.0.1").unwrap();
    let (_q, q) = listen("127.0.0.1").unwrap();
    for mode in Mode::ALL {
        let rule = format!("127.0.0.1:{p}");
        let flags = ["--net-deny", rule.as_str()];
        assert_eq!(
            connect(mode, &flags, "127.0.0.1", &p),
            "err ECONNREFUSED",
            "{mode:?} {rule}"
        );
        assert_eq!(connect(mode, &flags, "127.0.0.1", &q), "ok", "{mode:?}");
    }
}

#[test]
fn deny_bind_refuses_listed_ports_only() {
    let (p, q) = {
        let (a, p) = listen("127.0.0.1").unwrap();
        let (b, q) = listen("127.0.0.1").unwrap();
        drop((a, b));
        (p, q)
    };
    for mode in Mode::ALL {
        let flags = ["--net-deny-bind", p.as_str()];
        assert_eq!(
            sandboxed(mode, &flags, &["tcp_bind", "127.0.0.1", &p]),
            "err EACCES",
            "{mode:?}"
        );
        assert_eq!(
            sandboxed(mode, &flags, &["tcp_bind", "127.0.0.1", &q]),
            "ok",
            "{mode:?}"
        );
        // Control: without the flag, bind is refused by default (no --net-allow-bind).
        assert_eq!(
            sandboxed(mode, &[], &["tcp_bind", "127.0.0.1", &q]),
            "err EACCES"
        );
        // With both, allowed = allow minus deny.
        let both = ["--net-allow-bind", "*", "--net-deny-bind", p.as_str()];
        assert_eq!(
            sandboxed(mode, &both, &["tcp_bind", "127.0.0.1", &p]),
            "err EACCES"
        );
        assert_eq!(sandboxed(mode, &both, &["tcp_bind", "127.0.0.1", &q]), "ok");
    }
}

#[test]
fn unix_sockets_are_unaffected() {
    let dir = util::TempDir::new("netunix");
    let path = dir.join("s");
    let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    for mode in Mode::ALL {
        let out = sandboxed(mode, &["--net-deny", "*"], &["unix_connect", &path]);
        assert_eq!(out, "ok", "{mode:?}");
    }
}

#[test]
fn malformed_specs_exit_2_and_run_nothing() {
    let bad = [
        "",
        ":",
        "a:",
        "1.2.3.4:",
        "1.2.3.4:0",
        "1.2.3.4:65536",
        "1.2.3.4:80,",
        "::1:80",
        "[::1",
        "[::1]x",
        "[zz::1]:80",
        "1.2.3.4/33",
        "[::1]/129",
        "icmp://1.2.3.4:80",
        "ftp://a",
        "tcp://",
        "a..b",
        "-a.com",
        "1.2.3",
        "1.2.3.4.5",
        "*:*,80",
        "host:80:90",
        "udp:/x",
    ];
    for spec in bad {
        let out = sandboxed_output(Mode::Root, &["--net-allow", spec], &["exit", "0"]);
        let err = util::assert_one_error_line(&out, 2);
        assert!(err.contains(spec), "{spec:?}: {err}");
    }
    // Valid but not enforceable here: refused, never silently widened or narrowed.
    for (flags, what) in [
        (vec!["--net-allow", "no-such-host.invalid:80"], "/etc/hosts"),
        (vec!["--net-deny", "localhost:80"], "IP"),
        (
            vec!["--net-allow", ":80", "--net-deny", "1.2.3.4"],
            "cannot be combined",
        ),
        (
            vec!["--no-supervisor", "--net-allow", "127.0.0.1:80"],
            "supervisor",
        ),
        (
            vec!["--no-supervisor", "--net-deny-bind", "80"],
            "supervisor",
        ),
    ] {
        let out = sandboxed_output(Mode::Root, &flags, &["exit", "0"]);
        let err = util::assert_one_error_line(&out, 2);
        assert!(err.contains(what), "{flags:?}: {err}");
    }
}

#[test]
fn connect_race_never_reaches_a_denied_server() {
    // One thread connects to the allowed server while another rewrites the sockaddr to
    // the denied one in a tight loop; the decision is made on the address copy the
    // supervisor read, so the denied server never sees a connection.
    let allowed = util::Counted::new();
    let denied = util::Counted::new();
    let (a, d) = (allowed.port.as_str(), denied.port.as_str());
    let race = ["connect_race", "127.0.0.1", a, d, "3000"];
    // Control: unconfined, the flipping thread gets connects to the denied server.
    let control = bare(Mode::Root, &race);
    assert!(control.starts_with("ok "), "control: {control}");
    assert!(
        allowed.taken() > 0,
        "control: no connect reached the allowed server"
    );
    assert!(
        denied.taken() > 0,
        "control: the race never hit the denied port"
    );
    let rule = format!("127.0.0.1:{a}");
    for mode in Mode::ALL {
        let out = sandboxed(mode, &["--net-allow", &rule], &race);
        let connected: usize = out.strip_prefix("ok ").unwrap().parse().unwrap();
        assert!(connected > 0, "{mode:?}: no connect was allowed: {out}");
        assert_eq!(allowed.taken(), connected, "{mode:?}: {out}");
        assert_eq!(
            denied.taken(),
            0,
            "{mode:?}: a connection reached the denied server"
        );
    }
}

/// A UDP socket on 127.0.0.1 (kept by the caller) and its port.
fn udp_server() -> (UdpSocket, String) {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let port = s.local_addr().unwrap().port().to_string();
    (s, port)
}

/// Whether `s` received the probe's datagram (drains what is queued).
fn got_datagram(s: &UdpSocket) -> bool {
    let mut buf = [0u8; 64];
    s.set_nonblocking(true).unwrap();
    let got = matches!(s.recv(&mut buf), Ok(6) if &buf[..6] == b"probe\n");
    while s.recv(&mut buf).is_ok() {}
    s.set_nonblocking(false).unwrap();
    got
}

#[test]
fn udp_by_rule_through_every_send_path() {
    let (ps, p) = udp_server();
    let (qs, q) = udp_server();
    for mode in Mode::ALL {
        // Denied without a rule (no UDP socket at all), and by a tcp:// rule.
        let send_p = ["udp_send", "127.0.0.1", p.as_str()];
        assert_eq!(bare(mode, &send_p), "ok", "control");
        assert!(got_datagram(&ps));
        assert_eq!(sandboxed(mode, &[], &send_p), "err EPERM");
        let tcp_rule = format!("tcp://127.0.0.1:{p}");
        assert_eq!(
            sandboxed(mode, &["--net-allow", &tcp_rule], &send_p),
            "err EPERM"
        );

        let rule = format!("udp://127.0.0.1:{p}");
        let flags = ["--net-allow", rule.as_str()];
        assert_eq!(sandboxed(mode, &flags, &send_p), "ok", "{mode:?} sendto");
        assert!(got_datagram(&ps), "{mode:?}: sendto did not arrive");
        for how in ["sendmsg", "sendmmsg", "connect"] {
            let args = ["udp_msg", how, "127.0.0.1", p.as_str()];
            assert_eq!(sandboxed(mode, &flags, &args), "ok", "{mode:?} {how}");
            assert!(got_datagram(&ps), "{mode:?}: {how} did not arrive");
            let to_q = ["udp_msg", how, "127.0.0.1", q.as_str()];
            assert_eq!(
                sandboxed(mode, &flags, &to_q),
                "err EACCES",
                "{mode:?} {how}"
            );
            assert!(!got_datagram(&qs), "{mode:?}: {how} reached a denied port");
        }
        let send_q = ["udp_send", "127.0.0.1", q.as_str()];
        assert_eq!(sandboxed(mode, &flags, &send_q), "err EACCES");
        assert!(!got_datagram(&qs));
        // A scheme-less rule covers UDP too.
        let both = format!("127.0.0.1:{p}");
        assert_eq!(sandboxed(mode, &["--net-allow", &both], &send_p), "ok");
        assert!(got_datagram(&ps));
        // Deny mode: everything but the named destination.
        let deny = format!("127.0.0.1:{q}");
        assert_eq!(
            sandboxed(mode, &["--net-deny", &deny], &send_q),
            "err EACCES"
        );
        assert!(!got_datagram(&qs));
        assert_eq!(sandboxed(mode, &["--net-deny", &deny], &send_p), "ok");
        assert!(got_datagram(&ps));
    }
}

#[test]
fn udp_bind_only_on_bind_ports() {
    let (a, p) = udp_server();
    let (b, q) = udp_server();
    drop((a, b));
    for mode in Mode::ALL {
        let open = ["--net-allow", "udp://127.0.0.1:1"];
        assert_eq!(bare(mode, &["udp_bind", "127.0.0.1", &p]), "ok", "control");
        assert_eq!(
            sandboxed(mode, &open, &["udp_bind", "127.0.0.1", &p]),
            "err EACCES",
            "{mode:?}"
        );
        // Port 0 is what the first send on an unbound socket picks anyway.
        assert_eq!(
            sandboxed(mode, &open, &["udp_bind", "127.0.0.1", "0"]),
            "ok"
        );
        let listed = [&open[..], &["--net-allow-bind", &p]].concat();
        assert_eq!(
            sandboxed(mode, &listed, &["udp_bind", "127.0.0.1", &p]),
            "ok"
        );
        let denied = [&open[..], &["--net-deny-bind", &p]].concat();
        assert_eq!(
            sandboxed(mode, &denied, &["udp_bind", "127.0.0.1", &p]),
            "err EACCES"
        );
        assert_eq!(
            sandboxed(mode, &denied, &["udp_bind", "127.0.0.1", &q]),
            "ok"
        );
    }
}

#[test]
fn a_bind_made_on_behalf_keeps_privileged_ports_privileged() {
    // The supervisor binds with its own privileges: a port below 1024 must still need
    // the caller's CAP_NET_BIND_SERVICE, which sandlet drops unless --keep-caps.
    util::require_root();
    let Some(port) = (1..1024)
        .rev()
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
    else {
        util::skip("no privileged TCP port is free on 127.0.0.1");
        return;
    };
    let port = port.to_string();
    let tcp = ["tcp_bind", "127.0.0.1", port.as_str()];
    let udp = ["udp_bind", "127.0.0.1", port.as_str()];
    assert_eq!(bare(Mode::Root, &tcp), "ok", "control");
    // UDP open traps every bind.
    let open = [
        "--net-allow",
        "udp://127.0.0.1:1",
        "--net-allow-bind",
        &port,
    ];
    assert_eq!(sandboxed(Mode::Root, &open, &tcp), "err EACCES");
    assert_eq!(sandboxed(Mode::Root, &open, &udp), "err EACCES");
    let kept = [&open[..], &["--keep-caps"]].concat();
    assert_eq!(sandboxed(Mode::Root, &kept, &tcp), "ok");
    assert_eq!(sandboxed(Mode::Root, &kept, &udp), "ok");
}

#[test]
fn a_udp_socket_swapped_onto_a_unix_send_gets_nothing_past_the_rules() {
    // One thread sends to a denied port on a descriptor that another thread, or a
    // process sharing the descriptor table, keeps switching between a unix and a UDP
    // socket with dup2.
    let (denied, d) = udp_server();
    for mode in Mode::ALL {
        for how in ["thread", "process"] {
            // Control: unconfined, the swapped-in UDP socket sends.
            let out = bare(mode, &["fd_swap_race", how, "127.0.0.1", &d, "1000"]);
            let sent: u32 = out.split(' ').nth(1).unwrap().parse().unwrap();
            assert!(sent > 0, "control: {out}");
            assert!(got_datagram(&denied));

            let args = ["fd_swap_race", how, "127.0.0.1", d.as_str(), "1000"];
            let out = sandboxed(mode, &["--net-allow", "udp://127.0.0.1:1"], &args);
            let f: Vec<&str> = out.split(' ').collect();
            assert_eq!(f.len(), 3, "{out}");
            let what = format!("{mode:?} {how}");
            assert_eq!(
                (f[0], f[1]),
                ("ok", "0"),
                "{what}: a send got past the rules"
            );
            // Both kinds of socket were met: some sends were refused, the rest went to
            // the unix socket (and failed there).
            let refused: u32 = f[2].parse().unwrap();
            assert!(refused > 0 && refused < 1000, "{what}: {out}");
            assert!(!got_datagram(&denied), "{what}: a datagram arrived");
        }
    }
}

#[test]
fn a_unix_sender_blocked_on_its_sibling_reader_is_not_held_up() {
    // With UDP open every sendmsg is trapped; the reader thread must run while the
    // sender's continued call blocks on the full socket buffer.
    for mode in Mode::ALL {
        let out = sandboxed(
            mode,
            &["--net-allow", "udp://127.0.0.1:1"],
            &["unix_threads", "8000000"],
        );
        assert_eq!(out, "ok 8000000", "{mode:?}");
    }
}

#[test]
fn tcp_sends_still_work_when_udp_is_open() {
    // With UDP open every sendmsg is trapped; a TCP sendmsg is then made on the
    // caller's behalf (no address) and must deliver every byte.
    use std::io::Read;
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        let mut total = Vec::new();
        for _ in 0..Mode::ALL.len() {
            let (mut s, _) = l.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            total.push(got.len());
        }
        total
    });
    const BYTES: usize = 3 << 20;
    for mode in Mode::ALL {
        let out = sandboxed(
            mode,
            &["--net-deny", "10.0.0.0/8"],
            &["tcp_sendmsg", "127.0.0.1", &port, &BYTES.to_string()],
        );
        assert_eq!(out, "ok", "{mode:?}");
    }
    assert_eq!(server.join().unwrap(), vec![BYTES; Mode::ALL.len()]);
}

/// Sets net.ipv4.ping_group_range so every group may open ping sockets, and puts the
/// old value back when dropped (the test needs root; CI runs as root).
struct PingGroups(Option<String>);

const PING_GROUPS: &str = "/proc/sys/net/ipv4/ping_group_range";

impl PingGroups {
    fn open_to_all() -> PingGroups {
        let old = std::fs::read_to_string(PING_GROUPS).ok();
        if std::fs::write(PING_GROUPS, "0 2147483647").is_err() {
            return PingGroups(None);
        }
        PingGroups(old)
    }
}

impl Drop for PingGroups {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            let _ = std::fs::write(PING_GROUPS, old.trim());
        }
    }
}

#[test]
fn icmp_only_with_an_icmp_rule() {
    util::require_root();
    let groups = PingGroups::open_to_all();
    if groups.0.is_none() {
        util::skip("cannot open ping sockets to all groups");
        return;
    }
    for mode in Mode::ALL {
        let ping = ["ping", "127.0.0.1"];
        assert_eq!(bare(mode, &ping), "ok", "{mode:?} control");
        assert_eq!(
            sandboxed(mode, &[], &ping),
            "err EPERM",
            "{mode:?}: no rule"
        );
        let udp = ["--net-allow", "127.0.0.1"];
        assert_eq!(
            sandboxed(mode, &udp, &ping),
            "err EPERM",
            "{mode:?}: tcp+udp rule"
        );
        let deny = ["--net-deny", "10.0.0.0/8"];
        assert_eq!(
            sandboxed(mode, &deny, &ping),
            "err EPERM",
            "{mode:?}: deny mode"
        );
        let rule = ["--net-allow", "icmp://127.0.0.1"];
        assert_eq!(sandboxed(mode, &rule, &ping), "ok", "{mode:?}: icmp rule");
        let other = ["--net-allow", "icmp://127.0.0.2"];
        assert_eq!(
            sandboxed(mode, &other, &ping),
            "err EACCES",
            "{mode:?}: other host"
        );
    }
}

/// A loopback listener whose accept queue is full: it drops new SYNs, so a connect to it
/// waits for minutes. Dropping it closes the listener and the held connections.
struct StuckListener {
    fd: i32,
    port: u16,
    _held: Vec<std::net::TcpStream>,
}

impl StuckListener {
    fn new() -> StuckListener {
        // SAFETY: plain socket calls on a descriptor this test owns.
        let (fd, port) = unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            assert_eq!(
                libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len),
                0
            );
            assert_eq!(libc::listen(fd, 0), 0);
            let mut got: libc::sockaddr_in = std::mem::zeroed();
            let mut glen = len;
            libc::getsockname(fd, &mut got as *mut _ as *mut libc::sockaddr, &mut glen);
            (fd, u16::from_be(got.sin_port))
        };
        let to = std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        // Fill the queue (connections held until the listener is dropped).
        let held: Vec<_> = (0..4)
            .filter_map(|_| {
                std::net::TcpStream::connect_timeout(&to, Duration::from_millis(300)).ok()
            })
            .collect();
        // Control: a connect from here now hangs.
        assert!(
            std::net::TcpStream::connect_timeout(&to, Duration::from_millis(500)).is_err(),
            "the queue is not full: the test cannot make a connect hang"
        );
        StuckListener {
            fd,
            port,
            _held: held,
        }
    }
}

impl Drop for StuckListener {
    fn drop(&mut self) {
        // SAFETY: fd is the listener this value opened.
        unsafe { libc::close(self.fd) };
    }
}

#[test]
fn a_connect_that_never_completes_does_not_hold_the_run() {
    // The connect is made on the caller's behalf; -t 1 still ends the run (124)
    // promptly.
    let stuck = StuckListener::new();
    let port = stuck.port.to_string();
    let rule = format!("127.0.0.1:{port}");
    for mode in Mode::ALL {
        let start = std::time::Instant::now();
        let out = util::sandboxed_output(
            mode,
            &["-t", "1", "--net-allow", &rule],
            &["tcp_connect", "127.0.0.1", &port],
        );
        assert_eq!(out.code(), 124, "{mode:?}: {}", out.err());
        let took = start.elapsed();
        assert!(took < Duration::from_secs(10), "{mode:?}: took {took:?}");
    }
}

#[test]
fn connects_that_never_complete_hold_no_worker() {
    // Three threads (more than the two default workers) connect to a listener that
    // never answers; the main thread's brk under -m (a call workers answer) must still
    // be answered, and the run end as soon as the command exits. -t 10 only bounds a
    // broken build. Control: without the rule (the connects are refused at once) the
    // probe prints "ok".
    let stuck = StuckListener::new();
    let port = stuck.port.to_string();
    let rule = format!("127.0.0.1:{port}");
    let probe = ["stuck_connects", "3", "127.0.0.1", &port];
    for mode in Mode::ALL {
        let control = util::sandboxed_output(mode, &["-t", "10"], &probe);
        assert_eq!(
            control.out().trim(),
            "ok",
            "{mode:?} control: {}",
            control.err()
        );
        let start = std::time::Instant::now();
        let out = util::sandboxed_output(
            mode,
            &["-t", "10", "-m", "1G", "--net-allow", &rule],
            &probe,
        );
        let took = start.elapsed();
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert_eq!(out.out().trim(), "ok", "{mode:?}: {}", out.err());
        assert!(took < Duration::from_secs(5), "{mode:?}: took {took:?}");
    }
}
