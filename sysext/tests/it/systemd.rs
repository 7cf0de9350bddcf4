//! systemd as the judge: systemd-dissect reads baked images, and systemd-sysext merges
//! them into a throwaway root.
//!
//! About the merge: a plain `systemd-sysext merge --root=DIR` fails in this sandbox with
//! `Failed to remount /run/ MS_SLAVE: Invalid argument` (here /run is not a mount point),
//! and its overlay would stay inside systemd-sysext's own child mount namespace. So each
//! merge runs under `unshare -m` (a private mount namespace, nothing reaches the host)
//! with a tmpfs on /run and the throwaway root bind-mounted onto itself as a shared mount,
//! so the overlay propagates back where the test's commands can see it.

use std::path::Path;
use std::process::Command;

use nnedge_sysext::{bake_image, Architecture, BakeSpec, Compatibility};

use crate::support::{require_tool, sample_dir, tree_of, write};

#[test]
fn systemd_dissect_accepts_the_image_as_a_system_extension() {
    if !require_tool("systemd-dissect", "systemd-container") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let output = crate::support::bake_dir(&input, "wasmedge", work.path());

    // systemd (252) wants extension-release.STEM for an image named STEM.raw, so a
    // versioned image is read through its NAME.raw symlink, as on a Flatcar host.
    let current = work.path().join("wasmedge.raw");
    std::os::unix::fs::symlink(&output.image, &current).expect("symlink");
    let stdout = crate::support::run(
        "systemd-dissect",
        &["--json=short".as_ref(), current.as_os_str()],
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("dissect JSON");
    assert_eq!(report["useSystemExtension"], true, "{report}");
    assert_eq!(report["mounts"][0]["fstype"], "squashfs", "{report}");
    let release = report["extensionRelease"].to_string();
    assert!(
        release.contains("ID=_any") && release.contains("ARCHITECTURE=x86-64"),
        "{release}"
    );
}

#[test]
fn systemd_sysext_merges_a_versioned_image_under_its_name() {
    let Some(work) = merge_prerequisites() else {
        return;
    };
    let input = work.path().join("in");
    sample_dir(&input);
    let root = throwaway_root(work.path(), "ID=debian\nVERSION_ID=12\n");
    let spec = BakeSpec::new("wasmedge", "0.14.1", Architecture::X86_64);
    install(&root, &spec, &input);

    let after = "\"$ROOT/usr/bin/wasmedge\"; cmp \"$ROOT/usr/lib64/libwasmedge.so.0\" \
                 \"$IN/usr/lib64/libwasmedge.so.0.1.0\" && echo library-equal";
    let (ok, log) = merge_and_run(&root, &input, after);
    assert!(ok, "{log}");
    assert!(log.contains("Using extensions 'wasmedge'"), "{log}");
    assert!(
        log.contains("\nwasmedge\n"),
        "the merged executable ran: {log}"
    );
    assert!(log.contains("library-equal"), "{log}");
}

#[test]
fn systemd_sysext_merges_flatcar_images_only_on_flatcar() {
    let Some(work) = merge_prerequisites() else {
        return;
    };
    let input = work.path().join("in");
    sample_dir(&input);
    let mut spec = BakeSpec::new("wasmedge", "0.14.1", Architecture::X86_64);
    spec.compatibility = Compatibility::Flatcar;
    let probe = "test -e \"$ROOT/usr/bin/wasmedge\" && echo merged || echo not-merged";

    let debian = throwaway_root(&work.path().join("debian"), "ID=debian\nVERSION_ID=12\n");
    install(&debian, &spec, &input);
    let (_, log) = merge_and_run(&debian, &input, probe);
    assert!(
        log.contains("not-merged"),
        "a Flatcar image merged on Debian: {log}"
    );

    let flatcar = throwaway_root(
        &work.path().join("flatcar"),
        "ID=flatcar\nSYSEXT_LEVEL=1.0\n",
    );
    install(&flatcar, &spec, &input);
    let (ok, log) = merge_and_run(&flatcar, &input, probe);
    assert!(ok && log.contains("\nmerged"), "{log}");
}

/// The tools and rights a merge needs; `None` (after a skip message) when absent.
fn merge_prerequisites() -> Option<tempfile::TempDir> {
    let tools = [("systemd-sysext", "systemd"), ("unshare", "util-linux")];
    if !tools
        .iter()
        .all(|(tool, package)| require_tool(tool, package))
    {
        return None;
    }
    let probe = Command::new("unshare").args(["-m", "true"]).status();
    if !probe.is_ok_and(|status| status.success()) {
        crate::support::skip("`unshare -m` is not permitted here (needs root)");
        return None;
    }
    Some(tempfile::tempdir().expect("tempdir"))
}

/// A root with an os-release and the extension folders.
fn throwaway_root(parent: &Path, os_release: &str) -> std::path::PathBuf {
    let root = parent.join("root");
    write(&root, "usr/lib/os-release", os_release.as_bytes(), 0o644);
    for dir in ["etc/extensions", "opt/extensions", "run"] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir");
    }
    root
}

/// Bakes into /opt/extensions/NAME and links /etc/extensions/NAME.raw to it, as the
/// sysupdate transfer file does. A hard link stands in for the symlink: with `--root`,
/// systemd-sysext 252 finds no image behind any symlink in /etc/extensions (relative or
/// absolute, checked by hand: "No extensions found."), while on a host without
/// `--root` the bakery's symlinks work.
fn install(root: &Path, spec: &BakeSpec, input: &Path) {
    let store = root.join("opt/extensions").join(&spec.name);
    let output = bake_image(&tree_of(input), spec, &store).expect("bake");
    let link = root
        .join("etc/extensions")
        .join(format!("{}.raw", spec.name));
    std::fs::hard_link(&output.image, link).expect("link");
}

/// Merges in a private mount namespace, runs `after` (with `$ROOT` and `$IN` set), then
/// unmerges; returns whether the script succeeded and its combined output.
fn merge_and_run(root: &Path, input: &Path, after: &str) -> (bool, String) {
    let script = format!(
        "set -e
         mount -t tmpfs tmpfs /run
         mount --bind \"$ROOT\" \"$ROOT\"
         mount --make-shared \"$ROOT\"
         systemd-sysext merge --root=\"$ROOT\" 2>&1
         {after}
         systemd-sysext unmerge --root=\"$ROOT\" 2>&1"
    );
    let output = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("ROOT", root)
        .env("IN", input)
        .output()
        .expect("unshare");
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), log)
}
