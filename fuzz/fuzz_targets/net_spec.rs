//! `parse_net_spec`: never panics; an accepted spec keeps its invariants (sorted,
//! unique, non-zero ports; no port on ICMP; lowercase host names; networks without host
//! bits), its `Display` form parses back to the same value, and `matches`, `resolved`
//! and `lookup_hosts` never panic on it.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use sandlet::policy::net::{lookup_hosts, parse_net_spec, Ports, Proto, Target};

const PROTOS: [Proto; 3] = [Proto::Tcp, Proto::Udp, Proto::Icmp];

fn probes() -> [IpAddr; 8] {
    [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V4(Ipv4Addr::BROADCAST),
        IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        IpAddr::V6(Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped()),
        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    // Any text is a (possibly useless) hosts file.
    let _ = lookup_hosts(input, "localhost");
    let Ok(spec) = parse_net_spec(input) else {
        return;
    };

    match &spec.ports {
        Ports::All => {}
        Ports::List(ports) => {
            assert!(!ports.is_empty(), "{input:?}: empty port list");
            assert!(!ports.contains(&0), "{input:?}: port 0 accepted");
            assert!(
                ports.windows(2).all(|w| w[0] < w[1]),
                "{input:?}: ports {ports:?} not sorted and unique"
            );
            assert!(!spec.protos.icmp, "{input:?}: ports on an ICMP rule");
        }
    }
    let p = spec.protos;
    assert!(
        [p.tcp, p.udp, p.icmp] == [true, true, false]
            || [p.tcp, p.udp, p.icmp].iter().filter(|&&b| b).count() == 1,
        "{input:?}: protocols {p:?}"
    );
    match &spec.target {
        Target::Host(h) => {
            assert!(!h.is_empty() && h.len() <= 253, "{input:?}: host {h:?}");
            assert_eq!(h.to_ascii_lowercase(), *h, "{input:?}: host not lowercase");
        }
        Target::Cidr(net, len) => {
            // Shifting the prefix out leaves the host bits, which must be clear.
            let (max, host_bits) = match net {
                IpAddr::V4(a) => (
                    32,
                    u32::from(*a).checked_shl((*len).into()).unwrap_or(0).into(),
                ),
                IpAddr::V6(a) => (128, u128::from(*a).checked_shl((*len).into()).unwrap_or(0)),
            };
            assert!(*len <= max, "{input:?}: prefix /{len}");
            assert_eq!(host_bits, 0u128, "{input:?}: host bits kept in {net}/{len}");
            assert!(
                spec.target.contains(*net),
                "{input:?}: {net}/{len} does not hold its own address"
            );
        }
        Target::Any | Target::Ip(_) => {}
    }

    let shown = spec.to_string();
    assert_eq!(
        parse_net_spec(&shown).as_ref(),
        Ok(&spec),
        "{input:?} displays as {shown:?}, which does not parse back"
    );

    for ip in probes() {
        for proto in PROTOS {
            for port in [0, 1, 80, 443, 65535] {
                let _ = spec.matches(proto, ip, port);
            }
        }
    }
    // A rule for one address covers that address, on its protocols and ports.
    if let Target::Ip(ip) = spec.target {
        let port = match &spec.ports {
            Ports::All => 0,
            Ports::List(ports) => ports[0],
        };
        for proto in PROTOS {
            assert_eq!(
                spec.matches(proto, ip, port),
                spec.protos.contains(proto),
                "{input:?}: {proto:?} to its own address"
            );
        }
    }
    if let Some(host) = spec.is_host() {
        let resolved = spec.resolved(&probes());
        assert_eq!(resolved.len(), probes().len(), "{input:?}: {host} resolved");
        for r in &resolved {
            assert_eq!(parse_net_spec(&r.to_string()).as_ref(), Ok(r));
        }
    } else {
        assert_eq!(spec.resolved(&probes()), vec![spec.clone()]);
    }
});
