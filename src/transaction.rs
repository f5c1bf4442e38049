//! Transactions (library API, as sandlock's `Transaction`): stages run one after
//! another over one copy-on-write view of a workdir. Each stage sees the changes of the
//! stages before it (they share one upper layer, mounted again for each); when every
//! stage exits 0 the changes are committed once, and when one fails (non-zero status,
//! signal, timeout, memory kill) the stages after it do not run and everything is
//! thrown away: the workdir is as it was.

use std::path::{Path, PathBuf};

use crate::error::{PolicyError, RunError, SetupError};
use crate::launch::RunReport;
use crate::overlay::{Layer, ViewEnd};
use crate::policy::view::Finish;
use crate::policy::Policy;
use crate::sandbox::SandboxBuilder;
use crate::supervisor::{signals::Signals, Outcome};

/// Stages to run over one copy-on-write view of a workdir.
#[derive(Debug)]
pub struct Transaction {
    workdir: PathBuf,
    storage: Option<PathBuf>,
    stages: Vec<(String, SandboxBuilder)>,
}

/// One stage's name and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageReport {
    pub name: String,
    pub report: RunReport,
}

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionReport {
    /// The stages that ran, in order (those after a failed one did not).
    pub stages: Vec<StageReport>,
    /// The index of the stage that failed, if one did: nothing was committed.
    pub failed: Option<usize>,
    /// What became of the changes (committed, or thrown away; a failed commit keeps
    /// the layer and says where).
    pub view: ViewEnd,
}

impl TransactionReport {
    /// The failing stage's name and how it ended.
    pub fn failure(&self) -> Option<(&str, Outcome)> {
        let stage = &self.stages[self.failed?];
        Some((&stage.name, stage.report.outcome))
    }

    /// Whether every stage exited 0 and the changes reached the workdir.
    pub fn committed(&self) -> bool {
        self.failed.is_none() && self.view.failed.is_none() && self.view.kept.is_none()
    }
}

impl Transaction {
    /// A transaction over `workdir` (each stage's `--workdir`).
    pub fn new(workdir: impl AsRef<Path>) -> Transaction {
        Transaction {
            workdir: workdir.as_ref().to_owned(),
            storage: None,
            stages: Vec::new(),
        }
    }

    /// Where the shared upper layer is made (`--fs-storage`).
    pub fn fs_storage(mut self, dir: impl AsRef<Path>) -> Transaction {
        self.storage = Some(dir.as_ref().to_owned());
        self
    }

    /// Adds a stage: `sandbox`'s command and policy, run over the shared view. Its own
    /// view settings must be unset (the transaction gives the workdir and the storage;
    /// `--chroot`, `--fs-mount` and `--fs-deny` are the stage's own).
    pub fn stage(mut self, name: impl Into<String>, sandbox: SandboxBuilder) -> Transaction {
        self.stages.push((name.into(), sandbox));
        self
    }

    /// Judges every stage (nothing runs when one is invalid), then runs them in order as
    /// the CLI runs a command (subreaper, signals forwarded), and commits or discards.
    pub fn run(self) -> Result<TransactionReport, RunError> {
        if self.stages.is_empty() {
            return Err(PolicyError::NoCommand.into());
        }
        let mut policies: Vec<(String, Policy)> = Vec::new();
        for (name, stage) in self.stages {
            let view = &stage.spec().view;
            for (set, flag) in [
                (view.workdir.is_some(), "a stage's workdir"),
                (view.storage.is_some(), "a stage's fs_storage"),
                (
                    view.on_exit.is_some() || view.on_error.is_some(),
                    "a stage's on-exit",
                ),
                (view.dry_run, "a stage's dry-run"),
                (view.max_disk.is_some(), "a stage's max-disk"),
            ] {
                if set {
                    return Err(PolicyError::Conflict {
                        flag,
                        other: "a transaction (which owns the view)",
                    }
                    .into());
                }
            }
            let mut stage = stage.workdir(&self.workdir);
            if let Some(dir) = &self.storage {
                stage = stage.fs_storage(dir);
            }
            let mut policy = stage.build()?.policy().clone();
            if let Some(view) = policy.view.as_mut() {
                view.on_exit = Finish::Commit;
                view.on_error = Finish::Abort;
            }
            policies.push((name, policy));
        }
        let mut signals = Signals::install().map_err(|source| SetupError::Step {
            step: "install signal handlers",
            source,
        })?;
        rustix::process::set_child_subreaper(Some(rustix::process::getpid())).map_err(|e| {
            SetupError::Step {
                step: "become child subreaper",
                source: e.into(),
            }
        })?;
        let Some(view) = policies[0].1.view.clone() else {
            return Err(PolicyError::NoCommand.into());
        };
        let mut layer = Layer::create(&view).map_err(|source| SetupError::Step {
            step: "create the view's layer in --fs-storage",
            source,
        })?;
        let mut stages = Vec::new();
        let mut failed = None;
        for (i, (name, policy)) in policies.into_iter().enumerate() {
            let report =
                crate::launch::supervise(&policy, Some(&mut signals), |_, _| {}, Some(&mut layer));
            let report = match report {
                Ok(r) => r,
                Err(e) => {
                    if let Err(rm) = layer.remove() {
                        log::warn!("removing the layer {}: {rm}", layer.dir.display());
                    }
                    return Err(e);
                }
            };
            let ok = report.outcome == Outcome::Exited(0);
            stages.push(StageReport { name, report });
            if !ok {
                failed = Some(i);
                break;
            }
        }
        let view = crate::overlay::end(&view, layer, failed.is_none());
        Ok(TransactionReport {
            stages,
            failed,
            view,
        })
    }
}
