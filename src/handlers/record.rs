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
    /// Opens are also served (files, the /proc view).
    pub serve_opens: bool,
    /// Execs are also decided (`--deny-exec`, a dynamic policy).
    pub decide_execs: bool,
}
