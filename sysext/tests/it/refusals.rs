//! Every refusal of the issue, each checked for its error variant and for leaving no
//! image behind.

use std::os::unix::fs::symlink;
use std::path::Path;

use nnedge_sysext::{
    bake_image, bake_image_as, Architecture, BakeSpec, Compression, SysextError, Tree,
};

use crate::support::{sample_dir, tree_of, write};

fn spec(name: &str) -> BakeSpec {
    BakeSpec::new(name, "1.0", Architecture::X86_64)
}

/// Bakes `dir` as `wasmedge`, expecting a refusal, and checks nothing was written.
fn refuse(dir: &Path, out: &Path) -> SysextError {
    let tree = tree_of(dir);
    let err = bake_image(&tree, &spec("wasmedge"), out).expect_err("bake must refuse");
    assert!(
        !out.join("wasmedge-1.0-x86-64.raw").exists(),
        "refused bake left an image"
    );
    err
}

#[test]
fn an_output_file_for_another_name_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    for bad in ["llamaedge.raw", "wasmedgex-1-x86-64.raw", "wasmedge.img"] {
        let image = work.path().join(bad);
        let err = bake_image_as(&tree_of(&input), &spec("wasmedge"), &image).expect_err(bad);
        assert!(
            matches!(err, SysextError::NameMismatch { .. }),
            "{bad}: {err}"
        );
        assert!(!image.exists());
    }
    bake_image_as(
        &tree_of(&input),
        &spec("wasmedge"),
        &work.path().join("wasmedge.raw"),
    )
    .expect("NAME.raw is fine");
}

#[test]
fn a_release_file_for_another_name_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    write(
        &input,
        "usr/lib/extension-release.d/extension-release.other",
        b"ID=_any\n",
        0o644,
    );
    let err = refuse(&input, work.path());
    assert!(
        matches!(&err, SysextError::NameMismatch { name, found } if name == "wasmedge" && found == "other"),
        "{err}"
    );
}

#[test]
fn a_release_file_in_the_input_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    write(
        &input,
        "usr/lib/extension-release.d/extension-release.wasmedge",
        b"ID=x\n",
        0o644,
    );
    let err = refuse(&input, work.path());
    assert!(
        matches!(err, SysextError::ReleaseFileInInput { .. }),
        "{err}"
    );
}

#[test]
fn an_os_release_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    write(&input, "usr/lib/os-release", b"ID=debian\n", 0o644);
    let err = refuse(&input, work.path());
    assert!(matches!(err, SysextError::OsRelease { .. }), "{err}");
}

#[test]
fn a_usr_sbin_entry_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    write(&input, "usr/sbin/daemon", b"#!/bin/sh\n", 0o755);
    let err = refuse(&input, work.path());
    assert!(matches!(err, SysextError::UsrSbin { .. }), "{err}");
    assert!(
        err.to_string().contains("usr/bin"),
        "the error says what to do: {err}"
    );
}

#[test]
fn an_empty_image_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    std::fs::create_dir_all(input.join("usr/bin")).expect("mkdir");
    std::fs::create_dir_all(input.join("opt/x")).expect("mkdir");
    let err = refuse(&input, work.path());
    assert!(matches!(err, SysextError::EmptyImage), "{err}");

    // Files only where systemd-sysext does not look count as empty too.
    write(&input, "etc/x.conf", b"x\n", 0o644);
    let err = refuse(&input, work.path());
    assert!(matches!(err, SysextError::EmptyImage), "{err}");
}

#[test]
fn a_symlink_escaping_the_tree_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    symlink("../../../../etc/shadow", input.join("usr/bin/shadow")).expect("ln");
    let mut tree = Tree::new();
    let err = tree.add_dir("", &input).expect_err("escape");
    assert!(matches!(err, SysextError::SymlinkEscapes { .. }), "{err}");
}

#[test]
fn a_path_with_parent_components_is_refused() {
    let err = Tree::new().insert_dir("usr/../../etc").expect_err("..");
    assert!(matches!(err, SysextError::UnsafePath { .. }), "{err}");
}

#[test]
fn a_fifo_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let fifo = input.join("usr/bin/pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let err = Tree::new().add_dir("", &input).expect_err("fifo");
    assert!(
        matches!(err, SysextError::UnsupportedFileType { .. }),
        "{err}"
    );
}

#[test]
fn unknown_architectures_names_versions_and_compressors_are_refused() {
    let err = "riscv64".parse::<Architecture>().expect_err("arch");
    assert!(
        matches!(err, SysextError::UnknownArchitecture { .. }),
        "{err}"
    );
    let err = "brotli".parse::<Compression>().expect_err("compression");
    assert!(
        matches!(err, SysextError::UnknownCompression { .. }),
        "{err}"
    );

    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let tree = tree_of(&input);
    let err = bake_image(&tree, &spec("../evil"), work.path()).expect_err("name");
    assert!(matches!(err, SysextError::InvalidName { .. }), "{err}");
    let bad_version = BakeSpec::new("wasmedge", "1/2", Architecture::X86_64);
    let err = bake_image(&tree, &bad_version, work.path()).expect_err("version");
    assert!(matches!(err, SysextError::InvalidVersion { .. }), "{err}");

    let mut bad_url = spec("wasmedge");
    bad_url.sysupdate_url = Some("ftp://x y".to_owned());
    let err = bake_image(&tree, &bad_url, work.path()).expect_err("url");
    assert!(matches!(err, SysextError::InvalidSourceUrl { .. }), "{err}");
}
