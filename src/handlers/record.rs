//! What `sandlet learn` records (see `learn`): kept apart so that the handlers' shared
//! state can hold it without importing the handler.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// What the command did beneath a path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Use {
    pub read: bool,
    pub write: bool,
}

/// The record, and which other handlers the trapped calls go on to.
#[derive(Debug, Default)]
pub struct Learner {
    pub paths: Mutex<BTreeMap<PathBuf, Use>>,
    /// Connects: (protocol, destination) as a `--net-allow` rule.
    pub connects: Mutex<std::collections::BTreeSet<String>>,
    /// Ports bound (not 0).
    pub binds: Mutex<std::collections::BTreeSet<u16>>,
    /// Opens are also served (files, the /proc view).
    pub serve_opens: bool,
    /// Execs are also decided (`--deny-exec`, a dynamic policy).
    pub decide_execs: bool,
    /// Connects and binds are also checked (network rules).
    pub check_connects: bool,
    pub check_binds: bool,
}
