//! `/proc/net/tcp` and `tcp6` under `--port-remap`: the sandbox sees its own sockets
//! only, with the ports it asked for.

use super::Ctx;
use crate::policy::net::Proto;
use crate::procfs;
use crate::state::lock;

/// The sandbox's view of `/proc/net/tcp` or `tcp6` (`table`, the host's text): the
/// header, then only the sockets whose inode is in `mine`, renumbered, with each port
/// shown as `virt` maps it.
pub fn filter_tcp_table(
    table: &str,
    mine: &std::collections::HashSet<u64>,
    virt: impl Fn(u16) -> u16,
) -> String {
    use std::fmt::Write;
    let endpoint = |e: &str| match e.rsplit_once(':') {
        Some((ip, port)) => match u16::from_str_radix(port, 16) {
            Ok(p) => format!("{ip}:{:04X}", virt(p)),
            Err(_) => e.to_owned(),
        },
        None => e.to_owned(),
    };
    let mut lines = table.lines();
    let mut out = String::new();
    if let Some(header) = lines.next() {
        out.push_str(header);
        out.push('\n');
    }
    let mut sl = 0;
    for line in lines {
        let Some((_, rest)) = line.split_once(':') else {
            continue;
        };
        let inode = rest
            .split_ascii_whitespace()
            .nth(8)
            .and_then(|i| i.parse().ok());
        if !inode.is_some_and(|i| mine.contains(&i)) {
            continue;
        }
        let Some((local, after)) = rest.trim_start().split_once(' ') else {
            continue;
        };
        let Some((remote, tail)) = after.split_once(' ') else {
            continue;
        };
        let _ = writeln!(
            out,
            "{sl:4}: {} {} {tail}",
            endpoint(local),
            endpoint(remote)
        );
        sl += 1;
    }
    out
}

/// `/proc/net/tcp` (`v6`: `tcp6`) as the sandbox sees it under `--port-remap`: its own
/// sockets only, with virtual ports.
pub fn proc_net_tcp(ctx: &Ctx, v6: bool) -> Vec<u8> {
    let path = if v6 {
        "/proc/net/tcp6"
    } else {
        "/proc/net/tcp"
    };
    let table = std::fs::read_to_string(path).unwrap_or_default();
    let root = lock(&ctx.processes).root;
    let mut mine = std::collections::HashSet::new();
    for pid in procfs::sandbox_pids(root) {
        procfs::socket_inodes(pid, &mut mine);
    }
    let virt = |p: u16| {
        ctx.ports
            .as_ref()
            .map_or(p, |m| lock(m).virt(Proto::Tcp, p))
    };
    filter_tcp_table(&table, &mine, virt).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_tables_show_only_our_sockets_with_virtual_ports() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A028 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:C350 0100007F:A028 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 20 4 30 10 -1
";
        let mine = [111u64, 333].into_iter().collect();
        let out = filter_tcp_table(table, &mine, |p| if p == 0xA028 { 8080 } else { p });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].starts_with("  sl  local_address"));
        assert!(
            lines[1].starts_with("   0: 0100007F:1F90 00000000:0000 0A "),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with(" 111 1 0000000000000000 100 0 0 10 0"));
        assert!(
            lines[2].starts_with("   1: 0100007F:C350 0100007F:1F90 01 "),
            "{}",
            lines[2]
        );
        assert!(!out.contains(" 222 "));
        assert_eq!(filter_tcp_table("", &mine, |p| p), "");
    }
}
