//! `inspect`: listing a baked image, and explaining why systemd-sysext would refuse images
//! made by other tools.

use std::path::Path;

use nnedge_sysext::{bake_image_as, inspect_image, Architecture, BakeSpec, SysextError};

use crate::support::{require_tool, run, sample_dir, tree_of, write};

#[test]
fn a_baked_image_lists_root_owned_and_would_merge() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let image = work.path().join("wasmedge.raw");
    let spec = BakeSpec::new("wasmedge", "1.0", Architecture::X86_64);
    bake_image_as(&tree_of(&input), &spec, &image).expect("bake");

    let report = inspect_image(&image).expect("inspect");
    assert!(report.refusals.is_empty(), "{:?}", report.refusals);
    assert!(report.entries.iter().all(|e| e.uid == 0 && e.gid == 0));
    insta::assert_snapshot!(report.to_string());
}

#[test]
fn a_versioned_file_name_gets_a_note_about_its_symlink() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let output = crate::support::bake_dir(&input, "wasmedge", work.path());
    let report = inspect_image(&output.image).expect("inspect");
    assert!(report.refusals.is_empty(), "{:?}", report.refusals);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("/etc/extensions/wasmedge.raw")),
        "{:?}",
        report.notes
    );
}

#[test]
fn a_mksquashfs_image_breaking_every_rule_is_explained() {
    if !require_tool("mksquashfs", "squashfs-tools") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    write(&input, "usr/lib/os-release", b"ID=debian\n", 0o644);
    write(&input, "usr/sbin/daemon", b"#!/bin/sh\n", 0o755);
    write(&input, "etc/daemon.conf", b"x\n", 0o644);
    let release = "usr/lib/extension-release.d/extension-release.daemon";
    write(&input, release, b"ID=debian\nARCHITECTURE=sparc\n", 0o644);
    let image = work.path().join("other.raw");
    mksquashfs(&input, &image, &["-force-uid", "1000"]);

    let report = inspect_image(&image).expect("inspect");
    let judged = [report.refusals, report.notes].concat();
    let judged: Vec<_> = judged
        .iter()
        .filter(|line| !line.contains(" is owned by "))
        .collect();
    insta::assert_debug_snapshot!(judged);
}

#[test]
fn an_image_without_a_release_file_is_explained() {
    if !require_tool("mksquashfs", "squashfs-tools") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    write(&input, "usr/bin/tool", b"#!/bin/sh\n", 0o755);
    let image = work.path().join("tool.raw");
    mksquashfs(&input, &image, &["-all-root"]);
    let report = inspect_image(&image).expect("inspect");
    let expected = "it has no usr/lib/extension-release.d/extension-release.tool";
    assert_eq!(report.refusals, [expected]);
}

#[test]
fn a_file_that_is_not_squashfs_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let image = work.path().join("x.raw");
    std::fs::write(&image, vec![0u8; 4096]).expect("write");
    let err = inspect_image(&image).expect_err("not squashfs");
    assert!(matches!(err, SysextError::NotSquashfs { .. }), "{err}");
}

fn mksquashfs(input: &Path, image: &Path, extra: &[&str]) {
    let mut args = vec![
        input.as_os_str(),
        image.as_os_str(),
        "-noappend".as_ref(),
        "-quiet".as_ref(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    run("mksquashfs", &args);
}
