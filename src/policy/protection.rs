//! `Protection`: a kernel protection that depends on a Landlock ABI version, as
//! `--allow-degraded` and `sandlet check` name it. Plain data, shared by the policy,
//! the Landlock builder and the error messages.

use std::fmt;

/// A protection that depends on a Landlock ABI version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protection {
    Fs,
    FsRefer,
    FsTruncate,
    NetTcp,
    FsIoctlDev,
    SignalScope,
    AbstractUnixSocketScope,
}

impl Protection {
    pub const ALL: [Protection; 7] = [
        Protection::Fs,
        Protection::FsRefer,
        Protection::FsTruncate,
        Protection::NetTcp,
        Protection::FsIoctlDev,
        Protection::SignalScope,
        Protection::AbstractUnixSocketScope,
    ];

    /// The name used by `--allow-degraded` and `sandlet check`.
    pub fn name(self) -> &'static str {
        match self {
            Protection::Fs => "fs",
            Protection::FsRefer => "fs-refer",
            Protection::FsTruncate => "fs-truncate",
            Protection::NetTcp => "net-tcp",
            Protection::FsIoctlDev => "fs-ioctl-dev",
            Protection::SignalScope => "signal-scope",
            Protection::AbstractUnixSocketScope => "abstract-unix-socket-scope",
        }
    }

    /// The first Landlock ABI that provides it.
    pub fn min_abi(self) -> u32 {
        match self {
            Protection::Fs => 1,
            Protection::FsRefer => 2,
            Protection::FsTruncate => 3,
            Protection::NetTcp => 4,
            Protection::FsIoctlDev => 5,
            Protection::SignalScope | Protection::AbstractUnixSocketScope => 6,
        }
    }

    /// The first Linux release with that ABI.
    pub fn kernel(self) -> &'static str {
        match self.min_abi() {
            1 => "5.13",
            2 => "5.19",
            3 => "6.2",
            4 => "6.7",
            5 => "6.10",
            _ => "6.12",
        }
    }

    pub fn from_name(name: &str) -> Option<Protection> {
        Protection::ALL.into_iter().find(|p| p.name() == name)
    }

    /// All names, comma-separated, for messages.
    pub fn names() -> String {
        Protection::ALL.map(Protection::name).join(", ")
    }
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
