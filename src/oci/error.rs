//! The runtime's error: words for `--log` and stderr.

/// A runtime failure, in words for `--log` and stderr.
#[derive(Debug)]
pub struct OciError(pub String);

impl std::fmt::Display for OciError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for OciError {
    fn from(e: E) -> OciError {
        OciError(e.to_string())
    }
}

pub(crate) fn fail<T>(msg: impl Into<String>) -> Result<T, OciError> {
    Err(OciError(msg.into()))
}

pub(crate) fn context<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, OciError> {
    r.map_err(|e| OciError(format!("{what}: {e}")))
}
