//! The sandbox's identity: `uname` reports the sandbox's name as the node name.
//!
//! The answer is written into the caller's buffer by the supervisor (nothing is read
//! from the caller, so there is nothing it could rewrite in between).

use super::{Ctx, Decision, Handler};
use crate::seccomp::notif::Response;
use crate::sys;

pub const UNAME: Handler = uname;

/// Length of each field of the kernel's `struct new_utsname`.
const FIELD: usize = 65;

/// The kernel's `struct new_utsname` for this host, with `nodename` replaced.
fn utsname(nodename: &str) -> [u8; 6 * FIELD] {
    let u = rustix::system::uname();
    let mut buf = [0u8; 6 * FIELD];
    let fields = [
        u.sysname().to_bytes(),
        nodename.as_bytes(),
        u.release().to_bytes(),
        u.version().to_bytes(),
        u.machine().to_bytes(),
        u.domainname().to_bytes(),
    ];
    for (i, f) in fields.iter().enumerate() {
        let n = f.len().min(FIELD - 1);
        buf[i * FIELD..i * FIELD + n].copy_from_slice(&f[..n]);
    }
    buf
}

fn uname(ctx: &Ctx, n: &crate::seccomp::notif::Notif) -> Decision {
    let Some(name) = &ctx.name else {
        return Decision::Respond(Response::Continue);
    };
    let buf = utsname(name);
    Decision::Respond(match sys::process_vm_write(n.pid as i32, n.args[0], &buf) {
        Ok(written) if written == buf.len() => Response::Value(0),
        _ => Response::Errno(libc::EFAULT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_node_name() {
        let buf = utsname("box");
        let field = |i: usize| {
            let f = &buf[i * FIELD..(i + 1) * FIELD];
            String::from_utf8_lossy(&f[..f.iter().position(|&b| b == 0).unwrap()]).into_owned()
        };
        assert_eq!(field(0), "Linux");
        assert_eq!(field(1), "box");
        let real = rustix::system::uname();
        assert_eq!(field(2), real.release().to_string_lossy());
        assert_eq!(field(4), real.machine().to_string_lossy());
        let long = utsname(&"x".repeat(100));
        assert_eq!(long[FIELD + 64], 0, "truncated and NUL-terminated");
    }
}
