//! `--status-fd FD`: lifecycle events as JSON lines for orchestrators and CI logs:
//! `started` (sandlet's and the command's pids, the sandbox's name), `exec` (the
//! command's program), `limit` (a fork refused at `-P`, an allocation refused or
//! killed at `-m`) and `exit` (the status, the signal, or the timeout). Each line is one
//! `write` (atomic on a pipe up to PIPE_BUF); a reader that went away costs nothing
//! (EPIPE is ignored). The descriptor is sandlet's own: the command never inherits it.

use std::io;
use std::os::fd::OwnedFd;

use crate::dynamic::json_string;

/// Where events go.
#[derive(Debug)]
pub struct Status {
    fd: OwnedFd,
    started: std::time::Instant,
}

/// A field's value, as JSON.
pub enum Field<'a> {
    Num(i64),
    Str(&'a str),
    Bool(bool),
}

impl Status {
    /// Events to a close-on-exec duplicate of descriptor `fd` (EBADF when not open).
    pub fn open(fd: i32) -> io::Result<Status> {
        Ok(Status {
            fd: crate::sys::dup_raw(fd)?,
            started: std::time::Instant::now(),
        })
    }

    /// Writes `{"event":EVENT,"ms":..., fields...}` and a newline.
    pub fn emit(&self, event: &str, fields: &[(&str, Field<'_>)]) {
        let mut line = format!(
            "{{\"event\":{},\"ms\":{}",
            json_string(event),
            self.started.elapsed().as_millis()
        );
        for (key, value) in fields {
            let value = match value {
                Field::Num(n) => n.to_string(),
                Field::Str(s) => json_string(s),
                Field::Bool(b) => b.to_string(),
            };
            line.push_str(&format!(",{}:{value}", json_string(key)));
        }
        line.push_str("}\n");
        if let Err(e) = rustix::io::write(&self.fd, line.as_bytes()) {
            log::debug!("--status-fd: {e}");
        }
    }
}
