//! `--image REF`: a container image stored locally, read without a daemon or network.
//! REF is an OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/...`)
//! or a tarball of one (an OCI archive) or of `docker save` (`manifest.json`), with an
//! optional `:TAG`. The image's layers are verified against their sha256 digests and
//! unpacked once, in order, whiteouts applied, into a root directory in the cache,
//! keyed by the manifest's digest; runs use it as a copy-on-write root and never change
//! it.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::sha256::{hex, HashingReader};
use crate::json::{self, Value};

/// What a run takes from an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The unpacked root directory in the cache (never changed by a run).
    pub rootfs: PathBuf,
    /// `Entrypoint` followed by `Cmd`: the command when the command line gives none.
    pub command: Vec<String>,
    /// `Env` (`KEY=VALUE`).
    pub env: Vec<(String, String)>,
    /// `WorkingDir`.
    pub cwd: Option<String>,
    /// `User`, when set (sandlet runs the command as its caller: not applied).
    pub user: Option<String>,
}

fn bad(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

/// Splits `REF` into the image's path and tag: the whole of it when that exists,
/// else what is before the last `:` (when the tag holds no `/`).
pub fn locate(reference: &str) -> io::Result<(PathBuf, Option<String>)> {
    if Path::new(reference).exists() {
        return Ok((PathBuf::from(reference), None));
    }
    if let Some((path, tag)) = reference.rsplit_once(':') {
        if !tag.is_empty() && !tag.contains('/') && Path::new(path).exists() {
            return Ok((PathBuf::from(path), Some(tag.to_owned())));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "no image layout directory or archive there",
    ))
}

fn read_json(path: &Path) -> io::Result<Value> {
    let bytes = std::fs::read(path)?;
    json::parse_bytes(&bytes).map_err(|e| bad(format!("{}: {e}", path.display())))
}

fn field<'v>(v: &'v Value, key: &str, what: &str) -> io::Result<&'v Value> {
    v.get(key)
        .ok_or_else(|| bad(format!("{what} has no \"{key}\"")))
}

fn string<'v>(v: &'v Value, key: &str, what: &str) -> io::Result<&'v str> {
    field(v, key, what)?
        .as_str()
        .ok_or_else(|| bad(format!("{what}: \"{key}\" is not a string")))
}

/// `sha256:HEX` checked: the hex part.
fn sha256_hex(digest: &str) -> io::Result<&str> {
    match digest.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
            Ok(h)
        }
        _ => Err(bad(format!("unsupported digest '{digest}' (sha256 only)"))),
    }
}

/// A directory holding an image: an OCI layout, or a `docker save` tree.
struct Source {
    dir: PathBuf,
}

impl Source {
    fn blob(&self, digest: &str) -> io::Result<PathBuf> {
        Ok(self.dir.join("blobs/sha256").join(sha256_hex(digest)?))
    }

    /// A whole blob (a manifest or config), checked against `digest`.
    fn verified(&self, digest: &str) -> io::Result<Vec<u8>> {
        let path = self.blob(digest)?;
        let bytes = std::fs::read(&path)?;
        let mut h = super::sha256::Sha256::new();
        h.update(&bytes);
        let got = hex(&h.finish());
        if got != sha256_hex(digest)? {
            return Err(bad(format!(
                "{digest}: content does not match its digest (sha256:{got})"
            )));
        }
        Ok(bytes)
    }

    fn verified_json(&self, digest: &str) -> io::Result<Value> {
        let bytes = self.verified(digest)?;
        json::parse_bytes(&bytes).map_err(|e| bad(format!("{digest}: {e}")))
    }
}

/// A chosen image: its manifest digest (the cache key), config and layers as
/// (file, digest to check, whether that digest is of the uncompressed tar).
struct Chosen {
    key: String,
    config: Value,
    layers: Vec<(PathBuf, String, bool)>,
}

const INDEX_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The manifest of an OCI layout named by `tag` (or the only one).
fn choose_oci(src: &Source, tag: Option<&str>) -> io::Result<Chosen> {
    let index = read_json(&src.dir.join("index.json"))?;
    let manifests = field(&index, "manifests", "index.json")?
        .as_array()
        .ok_or_else(|| bad("index.json: \"manifests\" is not an array"))?;
    let name = |m: &Value| {
        m.get("annotations")
            .and_then(|a| a.get("org.opencontainers.image.ref.name"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let picked: Vec<&Value> = match tag {
        Some(t) => manifests
            .iter()
            .filter(|m| name(m).is_some_and(|n| n == t || n.ends_with(&format!(":{t}"))))
            .collect(),
        None => manifests.iter().collect(),
    };
    let mut desc = match picked.as_slice() {
        [one] => (*one).clone(),
        [] => return Err(bad(format!("no image tagged '{}'", tag.unwrap_or("")))),
        _ => {
            let tags: Vec<String> = manifests.iter().filter_map(name).collect();
            return Err(bad(format!(
                "several images: name one as REF:TAG (tags: {})",
                tags.join(", ")
            )));
        }
    };
    // An index: the manifest for this machine's platform.
    for _ in 0..4 {
        let media = desc.get("mediaType").and_then(Value::as_str).unwrap_or("");
        if !INDEX_TYPES.contains(&media) {
            break;
        }
        let inner = src.verified_json(string(&desc, "digest", "descriptor")?)?;
        let list = field(&inner, "manifests", "image index")?
            .as_array()
            .ok_or_else(|| bad("image index: \"manifests\" is not an array"))?;
        let fits = |m: &&Value| {
            let p = m.get("platform");
            p.and_then(|p| p.get("os")).and_then(Value::as_str) == Some("linux")
                && p.and_then(|p| p.get("architecture"))
                    .and_then(Value::as_str)
                    == Some(arch())
        };
        desc = list
            .iter()
            .find(fits)
            .cloned()
            .ok_or_else(|| bad(format!("no linux/{} image in the index", arch())))?;
    }
    let digest = string(&desc, "digest", "descriptor")?.to_owned();
    let manifest = src.verified_json(&digest)?;
    let config_digest = string(field(&manifest, "config", "manifest")?, "digest", "config")?;
    let config = src.verified_json(config_digest)?;
    let mut layers = Vec::new();
    for l in field(&manifest, "layers", "manifest")?
        .as_array()
        .ok_or_else(|| bad("manifest: \"layers\" is not an array"))?
    {
        let d = string(l, "digest", "layer")?;
        let media = l.get("mediaType").and_then(Value::as_str).unwrap_or("");
        if media.contains("zstd") {
            return Err(bad(format!("layer {d}: zstd layers are not supported")));
        }
        layers.push((src.blob(d)?, sha256_hex(d)?.to_owned(), false));
    }
    Ok(Chosen {
        key: sha256_hex(&digest)?.to_owned(),
        config,
        layers,
    })
}

/// The image of a `docker save` tree (`manifest.json`): layers checked against the
/// config's `rootfs.diff_ids` (digests of the uncompressed tars).
fn choose_docker(src: &Source, tag: Option<&str>) -> io::Result<Chosen> {
    let list = read_json(&src.dir.join("manifest.json"))?;
    let list = list
        .as_array()
        .ok_or_else(|| bad("manifest.json is not an array"))?;
    let tags = |m: &Value| -> Vec<String> {
        m.get("RepoTags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let picked: Vec<&Value> = match tag {
        Some(t) => list
            .iter()
            .filter(|m| {
                tags(m)
                    .iter()
                    .any(|n| n == t || n.ends_with(&format!(":{t}")))
            })
            .collect(),
        None => list.iter().collect(),
    };
    let m = match picked.as_slice() {
        [one] => *one,
        [] => return Err(bad(format!("no image tagged '{}'", tag.unwrap_or("")))),
        _ => return Err(bad("several images: name one as REF:TAG")),
    };
    let config_file = src.dir.join(string(m, "Config", "manifest.json")?);
    let config_bytes = std::fs::read(&config_file)?;
    let config = json::parse_bytes(&config_bytes).map_err(|e| bad(format!("image config: {e}")))?;
    let mut h = super::sha256::Sha256::new();
    h.update(&config_bytes);
    let key = hex(&h.finish());
    let diff_ids = config
        .get("rootfs")
        .and_then(|r| r.get("diff_ids"))
        .and_then(Value::as_array)
        .ok_or_else(|| bad("image config has no rootfs.diff_ids"))?;
    let files = field(m, "Layers", "manifest.json")?
        .as_array()
        .ok_or_else(|| bad("manifest.json: \"Layers\" is not an array"))?;
    if files.len() != diff_ids.len() {
        return Err(bad("manifest.json and the config disagree on the layers"));
    }
    let mut layers = Vec::new();
    for (file, id) in files.iter().zip(diff_ids) {
        let file = file
            .as_str()
            .ok_or_else(|| bad("a layer is not a string"))?;
        if file.split('/').any(|c| c == "..") {
            return Err(bad(format!("layer path '{file}' leaves the archive")));
        }
        let id = id
            .as_str()
            .ok_or_else(|| bad("a diff_id is not a string"))?;
        layers.push((src.dir.join(file), sha256_hex(id)?.to_owned(), true));
    }
    Ok(Chosen {
        key,
        config,
        layers,
    })
}

/// Unpacks `layers` in order into `dir`, each checked against its digest once read
/// to its end.
fn unpack(layers: &[(PathBuf, String, bool)], dir: &Path) -> io::Result<()> {
    let tree = super::unpack::Tree::open(dir)?;
    for (file, want, uncompressed) in layers {
        let shown = format!("layer sha256:{want}");
        let (packed, plain) =
            apply(file, &tree).map_err(|e| io::Error::new(e.kind(), format!("{shown}: {e}")))?;
        let got = hex(if *uncompressed { &plain } else { &packed });
        if got != *want {
            return Err(bad(format!(
                "{shown}: content does not match its digest (sha256:{got})"
            )));
        }
    }
    Ok(())
}

/// Applies the tar (gzip-compressed or not) in `file` to `tree`, reading the file to
/// its end; the sha256 of the file and of the tar.
fn apply(file: &Path, tree: &super::unpack::Tree) -> io::Result<([u8; 32], [u8; 32])> {
    let f = File::open(file)?;
    let mut outer = HashingReader::new(BufReader::with_capacity(1 << 16, f));
    let mut head = [0u8; 2];
    let n = peek(&mut outer, &mut head)?;
    let plain = if super::inflate::is_gzip(&head[..n]) {
        let gz = super::inflate::GzipReader::new(Prefixed::new(&head[..n], &mut outer));
        let mut inner = HashingReader::new(gz);
        tree.apply(&mut inner)?;
        io::copy(&mut inner, &mut io::sink())?;
        inner.digest()
    } else {
        let mut inner = HashingReader::new(Prefixed::new(&head[..n], &mut outer));
        tree.apply(&mut inner)?;
        io::copy(&mut inner, &mut io::sink())?;
        inner.digest()
    };
    io::copy(&mut outer, &mut io::sink())?;
    Ok((outer.digest(), plain))
}

/// Reads up to `buf.len()` bytes (fewer only at the end).
fn peek(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// `head` then the rest of `inner`.
struct Prefixed<'a, R> {
    head: Vec<u8>,
    at: usize,
    inner: &'a mut R,
}

impl<'a, R: Read> Prefixed<'a, R> {
    fn new(head: &[u8], inner: &'a mut R) -> Prefixed<'a, R> {
        Prefixed {
            head: head.to_vec(),
            at: 0,
            inner,
        }
    }
}

impl<R: Read> Read for Prefixed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at < self.head.len() {
            let n = buf.len().min(self.head.len() - self.at);
            buf[..n].copy_from_slice(&self.head[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// Where unpacked images are kept: `$XDG_CACHE_HOME/sandlet/images`, else
/// `$HOME/.cache/sandlet/images`, else `/tmp/sandlet-UID/images`.
pub fn cache_dir() -> PathBuf {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(x) = nonempty("XDG_CACHE_HOME") {
        return Path::new(&x).join("sandlet/images");
    }
    if let Some(h) = nonempty("HOME") {
        let home = PathBuf::from(h);
        let ours = std::fs::metadata(&home).is_ok_and(|m| {
            std::os::unix::fs::MetadataExt::uid(&m) == rustix::process::geteuid().as_raw()
        });
        if ours {
            return home.join(".cache/sandlet/images");
        }
    }
    PathBuf::from(format!(
        "/tmp/sandlet-{}/images",
        rustix::process::geteuid().as_raw()
    ))
}

/// Makes `dir` (mode 0700) and checks that only its owner, this user, may change it.
fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.uid() != rustix::process::geteuid().as_raw() || meta.mode() & 0o022 != 0 {
        return Err(bad(format!(
            "{}: must be owned by the user running sandlet and writable by no one else",
            dir.display()
        )));
    }
    Ok(())
}

/// A directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(cache: &Path, what: &str) -> io::Result<Scratch> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let dir = cache.join(format!(
            "tmp-{what}-{}-{}",
            std::process::id(),
            now.as_nanos()
        ));
        std::fs::create_dir(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Opens the image `reference` (see the module's documentation), unpacking it into
/// `cache` unless it is there already.
pub fn open(reference: &str, cache: &Path) -> io::Result<Image> {
    let (path, tag) = locate(reference)?;
    private_dir(cache)?;
    // An archive is unpacked (as a layer would be) into a scratch directory first.
    let mut _archive = None;
    let dir = if path.is_dir() {
        path
    } else {
        let scratch = Scratch::new(cache, "archive")?;
        apply(&path, &super::unpack::Tree::open(&scratch.0)?)?;
        let dir = scratch.0.clone();
        _archive = Some(scratch);
        dir
    };
    let src = Source { dir };
    let chosen = if src.dir.join("index.json").exists() {
        if !src.dir.join("oci-layout").exists() {
            return Err(bad(
                "index.json without oci-layout: not an OCI image layout",
            ));
        }
        choose_oci(&src, tag.as_deref())?
    } else if src.dir.join("manifest.json").exists() {
        choose_docker(&src, tag.as_deref())?
    } else {
        return Err(bad(
            "neither an OCI image layout (index.json) nor a docker save archive (manifest.json)",
        ));
    };
    let rootfs = cache.join("rootfs").join(&chosen.key);
    if !rootfs.is_dir() {
        std::fs::create_dir_all(cache.join("rootfs"))?;
        let scratch = Scratch::new(cache, "rootfs")?;
        unpack(&chosen.layers, &scratch.0)?;
        // Where sandlet mounts /proc, /dev and /tmp (the cache only, never the image).
        for (d, mode) in [("proc", 0o555), ("dev", 0o755), ("tmp", 0o1777)] {
            let p = scratch.0.join(d);
            if std::fs::symlink_metadata(&p).is_err() {
                std::fs::create_dir(&p)?;
                std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
            }
        }
        match std::fs::rename(&scratch.0, &rootfs) {
            Ok(()) => {}
            // Another run unpacked it meanwhile: use theirs.
            Err(_) if rootfs.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    config(&chosen.config, rootfs)
}

/// What a run takes from the image's config.
fn config(config: &Value, rootfs: PathBuf) -> io::Result<Image> {
    let c = config.get("config").or_else(|| config.get("Config"));
    let strings = |key: &str| -> io::Result<Vec<String>> {
        match c.and_then(|c| c.get(key)) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(v) => v
                .as_array()
                .ok_or_else(|| bad(format!("image config: {key} is not an array")))?
                .iter()
                .map(|s| {
                    s.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad(format!("image config: {key} holds a non-string")))
                })
                .collect(),
        }
    };
    let text = |key: &str| {
        c.and_then(|c| c.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut command = strings("Entrypoint")?;
    command.extend(strings("Cmd")?);
    let env = strings("Env")?
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    Ok(Image {
        rootfs,
        command,
        env,
        cwd: text("WorkingDir"),
        user: text("User"),
    })
}
