//! `--image REF`: an OCI image layout (or an archive of one) built here by hand, run
//! with its own command and with an explicit one; layers verified (a tampered one is
//! refused), whiteouts applied, the cache never changed by a run.

mod util;

use std::path::Path;
use std::process::Command;

use sandlet::image::sha256::{hex, Sha256};
use util::{run, Mode, Output, TempDir};

fn digest(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    hex(&h.finish())
}

fn sh(script: &str) {
    let st = Command::new("/bin/sh")
        .args(["-c", script])
        .status()
        .unwrap();
    assert!(st.success(), "{script}");
}

/// Writes `bytes` as a blob of `layout`; its digest and size.
fn blob(layout: &str, bytes: &[u8]) -> (String, usize) {
    let d = digest(bytes);
    std::fs::write(format!("{layout}/blobs/sha256/{d}"), bytes).unwrap();
    (format!("sha256:{d}"), bytes.len())
}

/// An OCI layout in `dir/layout`, tagged `v1`: a gzip layer holding a static busybox
/// root (sh, cat, ls, env, pwd, /etc/marker), and a plain-tar layer that whites out
/// /etc/marker and adds /etc/second. `None` (a recorded skip) without busybox.
fn image(dir: &TempDir) -> Option<String> {
    if !Path::new("/bin/busybox").exists() {
        util::skip("no static busybox at /bin/busybox (apt install busybox-static)");
        return None;
    }
    let base = dir.join("l1");
    let top = dir.join("l2");
    let layout = dir.join("layout");
    sh(&format!(
        "set -e; mkdir -p {base}/bin {base}/etc {top}/etc {layout}/blobs/sha256
         cp /bin/busybox {base}/bin/
         for a in sh cat ls env pwd; do ln -s busybox {base}/bin/$a; done
         echo inside > {base}/etc/marker
         : > {top}/etc/.wh.marker; echo second > {top}/etc/second
         tar -C {base} -cf - . | gzip -n > {dir}/l1.tar.gz
         tar -C {top} -cf {dir}/l2.tar .",
        dir = dir.path().display()
    ));
    let l1 = std::fs::read(dir.join("l1.tar.gz")).unwrap();
    let l2 = std::fs::read(dir.join("l2.tar")).unwrap();
    let (l1d, l1n) = blob(&layout, &l1);
    let (l2d, l2n) = blob(&layout, &l2);
    let config = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","GREETING=hello"],"Cmd":["/bin/sh","-c","echo $GREETING from the image in $(pwd)"],"WorkingDir":"/etc"},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let (cd, cn) = blob(&layout, config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{cn}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{l1d}","size":{l1n}}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{l2d}","size":{l2n}}}]}}"#
    );
    let (md, mn) = blob(&layout, manifest.as_bytes());
    std::fs::write(
        format!("{layout}/index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{mn},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#
        ),
    )
    .unwrap();
    std::fs::write(
        format!("{layout}/oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    sh(&format!("chmod -R a+rX {}", dir.path().display()));
    Some(layout)
}

fn with_image(mode: Mode, cache: &str, flags: &[&str]) -> Output {
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    let mut cmd = mode.sandlet(&args);
    cmd.env("XDG_CACHE_HOME", cache);
    run(cmd)
}

/// Every path beneath `dir` with its size.
fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                todo.push(p.clone());
            }
            out.push((p.display().to_string(), m.len()));
        }
    }
    out.sort();
    out
}

#[test]
fn an_image_runs_with_its_command_or_ours_and_its_cache_never_changes() {
    for mode in Mode::ALL {
        let dir = TempDir::new("image");
        let Some(layout) = image(&dir) else {
            return;
        };
        let cache = dir.subdir("cache");
        // Its own command, Env and WorkingDir.
        let out = with_image(mode, &cache, &["--image", &layout]);
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert_eq!(out.out(), "hello from the image in /etc", "{mode:?}");
        // An explicit command, by tag; the second layer's whiteout and file; a write
        // that stays in the run's layer.
        let rootfs = Path::new(&cache).join("sandlet/images/rootfs");
        let before = listing(&rootfs);
        let tagged = format!("{layout}:v1");
        let out = with_image(
            mode,
            &cache,
            &[
                "--image",
                &tagged,
                "-r",
                "/",
                "-w",
                "/etc",
                "--",
                "sh",
                "-c",
                "ls /etc; echo changed > /etc/second; echo x > /etc/new; cat /etc/second",
            ],
        );
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert_eq!(out.out(), "second\nchanged", "{mode:?}");
        assert_eq!(listing(&rootfs), before, "{mode:?}: the cache changed");
        // An archive of the layout works too.
        let archive = dir.join("image.tar");
        sh(&format!(
            "tar -C {layout} -cf {archive} . && chmod a+r {archive}"
        ));
        let out = with_image(
            mode,
            &cache,
            &["--image", &archive, "--", "cat", "/etc/second"],
        );
        assert_eq!(
            (out.code(), out.out().as_str()),
            (0, "second"),
            "{}",
            out.err()
        );
    }
}

#[test]
fn a_tampered_layer_is_refused() {
    let dir = TempDir::new("image-tampered");
    let Some(layout) = image(&dir) else {
        return;
    };
    let cache = dir.subdir("cache");
    // Control: as built, it runs.
    let control = dir.subdir("cache-control");
    let out = with_image(Mode::Root, &control, &["--image", &layout]);
    assert_eq!(out.code(), 0, "{}", out.err());
    // One byte of the plain layer changed (its digest is no longer its name).
    let blobs = format!("{layout}/blobs/sha256");
    let l2 = digest(&std::fs::read(dir.join("l2.tar")).unwrap());
    let path = format!("{blobs}/{l2}");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(7).rposition(|w| w == b"second\n").unwrap();
    bytes[at] = b'S';
    std::fs::write(&path, bytes).unwrap();
    let out = with_image(Mode::Root, &cache, &["--image", &layout]);
    let line = util::assert_one_error_line(&out, 2);
    assert!(
        line.contains(&l2) && line.contains("does not match"),
        "{line}"
    );
    assert!(
        !Path::new(&cache).join("sandlet/images/rootfs").exists()
            || listing(&Path::new(&cache).join("sandlet/images/rootfs")).is_empty(),
        "a rootfs was kept from a tampered image"
    );
}

#[test]
fn bad_image_requests_exit_2() {
    let dir = TempDir::new("image-bad");
    let Some(layout) = image(&dir) else {
        return;
    };
    let cache = dir.subdir("cache");
    let missing_tag = format!("{layout}:v2");
    for flags in [
        &["--image", "/nonexistent/image"][..],
        &["--image", &missing_tag],
        &["--image", &layout, "--on-exit", "commit"],
        &["--image", &layout, "--chroot", "/tmp"],
        &["--image", dir.path().to_str().unwrap()],
    ] {
        let out = with_image(Mode::Root, &cache, flags);
        util::assert_one_error_line(&out, 2);
    }
}
