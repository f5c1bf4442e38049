//! sandlet: confine a Linux command with Landlock and seccomp-bpf, without root,
//! namespaces or containers.
//!
//! Data flows one way: producers ([`cli`] from argv, [`profile`] from a TOML file under
//! the flags, [`SandboxBuilder`]) fill a
//! [`policy::Spec`] (typed data) -> [`policy::Policy`] (validated, immutable) ->
//! [`policy::traps::Traps`] and [`spawn::ChildPlan`] (everything allocated before fork)
//! -> [`child`] (fork, confine, exec) -> [`supervisor`] (poll loop, dispatch to
//! [`handlers`], until the sandbox is gone) -> [`supervisor::Outcome`].
//!
//! Kernel: Linux >= 6.12 (Landlock ABI 6) for every protection; older kernels are refused
//! per missing protection unless `--allow-degraded` accepts it (see [`landlock`]).

pub mod check;
pub mod child;
pub mod cli;
pub mod creds;
pub mod dynamic;
pub mod error;
pub mod explain;
pub mod flags;
pub mod handlers;
pub mod image;
pub mod json;
pub mod landlock;
pub mod launch;
pub mod oci;
pub mod overlay;
pub mod policy;
pub mod procfs;
pub mod profile;
pub mod registry;
pub mod rng;
mod sandbox;
pub mod seccomp;
pub mod spawn;
pub mod state;
pub mod status;
pub mod streams;
pub mod supervisor;
pub mod sys;
pub mod transaction;

pub use launch::{run, RunReport};
pub use policy::Spec;
pub use sandbox::{Child, Sandbox, SandboxBuilder};
pub use transaction::{StageReport, Transaction, TransactionReport};
