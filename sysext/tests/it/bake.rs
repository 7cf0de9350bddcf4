//! Baking a directory tree, judged by unsquashfs: listing, contents, modes, owners,
//! reproducibility, compressors, checksums and the sysupdate transfer file.

use std::os::unix::fs::MetadataExt;

use nnedge_sysext::{bake_image, Architecture, BakeSpec, Compatibility, Compression};

use crate::support::{bake_dir, files_under, list, require_tool, run, sample_dir, tree_of, unpack};

#[test]
fn unsquashfs_lists_root_owned_entries_with_explicit_modes() {
    if !require_tool("unsquashfs", "squashfs-tools") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let output = bake_dir(&input, "wasmedge", work.path());

    assert_eq!(
        output.image.file_name().expect("name"),
        "wasmedge-1.0-x86-64.raw"
    );
    insta::assert_snapshot!(list(&output.image).join("\n"));
}

#[test]
fn unpacked_files_are_byte_equal_to_the_input() {
    if !require_tool("unsquashfs", "squashfs-tools") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let output = bake_dir(&input, "wasmedge", work.path());
    let unpacked = work.path().join("unpacked");
    unpack(&output.image, &unpacked);

    let inputs = files_under(&input);
    assert_eq!(inputs.len(), 6, "{inputs:?}");
    for file in &inputs {
        let expected = std::fs::read(input.join(file)).expect("read input");
        let actual = std::fs::read(unpacked.join(file)).expect("read unpacked");
        assert!(
            expected == actual,
            "{} differs after the round trip",
            file.display()
        );
    }
    let link = std::fs::read_link(unpacked.join("usr/lib64/libwasmedge.so")).expect("link");
    assert_eq!(link.to_str(), Some("/usr/lib64/libwasmedge.so.0"));
}

/// Regression: backhand deduplicates by first block only, so two files sharing their
/// first 128 KiB came out with the first file's contents.
#[test]
fn files_sharing_a_first_block_keep_their_own_contents() {
    if !require_tool("unsquashfs", "squashfs-tools") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let output = bake_dir(&input, "wasmedge", work.path());
    let unpacked = work.path().join("unpacked");
    unpack(&output.image, &unpacked);

    let second = std::fs::read(unpacked.join("usr/share/data/second.bin")).expect("read");
    assert!(
        second.ends_with(b"the other tail"),
        "second.bin lost its own tail"
    );
    assert_eq!(second.len(), 200_000 + "the other tail".len());
}

#[test]
fn two_bakes_give_one_sha256_and_the_mtime_is_fixed() {
    if !require_tool("unsquashfs", "squashfs-tools") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let first = bake_dir(&input, "wasmedge", &work.path().join("a"));
    // Touch the input: its own mtimes must not leak into the image.
    crate::support::write(
        &input,
        "usr/bin/wasmedge",
        b"#!/bin/sh\necho wasmedge\n",
        0o755,
    );
    let second = bake_dir(&input, "wasmedge", &work.path().join("b"));
    assert_eq!(first.sha256, second.sha256);
    let bytes = |p: &std::path::Path| std::fs::read(p).expect("read image");
    assert!(bytes(&first.image) == bytes(&second.image));

    let mut spec = BakeSpec::new("wasmedge", "1.0", Architecture::X86_64);
    spec.mtime = 1_700_000_000;
    let dated = bake_image(&tree_of(&input), &spec, &work.path().join("c")).expect("bake");
    assert_ne!(dated.sha256, first.sha256);
    let unpacked = work.path().join("unpacked");
    unpack(&dated.image, &unpacked);
    let meta = std::fs::metadata(unpacked.join("usr/bin/wasmedge")).expect("stat");
    assert_eq!(meta.mtime(), 1_700_000_000);
}

#[test]
fn sha256sums_checks_out_with_sha256sum() {
    if !require_tool("sha256sum", "coreutils") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let out = work.path().join("out");
    bake_dir(&input, "wasmedge", &out);
    let other = bake_dir(&input, "llamaedge", &out);
    bake_dir(&input, "wasmedge", &out);

    let sums = std::fs::read_to_string(&other.sums).expect("read sums");
    assert_eq!(sums.lines().count(), 2, "{sums}");
    let check = std::process::Command::new("sha256sum")
        .args(["--check", "--strict", "SHA256SUMS"])
        .current_dir(&out)
        .output()
        .expect("sha256sum");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn every_compressor_is_readable_by_unsquashfs() {
    if !require_tool("unsquashfs", "squashfs-tools") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    for compression in [
        Compression::Gzip,
        Compression::Xz,
        Compression::Zstd,
        Compression::Lz4,
    ] {
        let mut spec = BakeSpec::new("wasmedge", "1.0", Architecture::X86_64);
        spec.compression = compression;
        let out = work.path().join(compression.name());
        let output = bake_image(&tree_of(&input), &spec, &out).expect("bake");

        let stats = run("unsquashfs", &["-s".as_ref(), output.image.as_os_str()]);
        assert!(
            stats.contains(&format!("Compression {compression}")),
            "{stats}"
        );
        let unpacked = out.join("unpacked");
        unpack(&output.image, &unpacked);
        let original = std::fs::read(input.join("usr/lib64/libwasmedge.so.0.1.0")).expect("in");
        let read = std::fs::read(unpacked.join("usr/lib64/libwasmedge.so.0.1.0")).expect("out");
        assert!(original == read, "{compression}: library differs");
    }
}

#[test]
fn release_file_declares_flatcar_and_reload_on_request() {
    if !require_tool("unsquashfs", "squashfs-tools") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let mut spec = BakeSpec::new("wasmedge", "0.14.1", "aarch64".parse().expect("arch"));
    spec.compatibility = Compatibility::Flatcar;
    spec.reload_manager = true;
    let output = bake_image(&tree_of(&input), &spec, work.path()).expect("bake");
    assert_eq!(
        output.image.file_name().expect("name"),
        "wasmedge-0.14.1-arm64.raw"
    );

    let unpacked = work.path().join("unpacked");
    unpack(&output.image, &unpacked);
    let release = unpacked.join("usr/lib/extension-release.d/extension-release.wasmedge");
    insta::assert_snapshot!(std::fs::read_to_string(release).expect("release"));
}

#[test]
fn default_release_file_says_any_distribution() {
    if !require_tool("unsquashfs", "squashfs-tools") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let output = bake_dir(&input, "wasmedge", work.path());
    let unpacked = work.path().join("unpacked");
    unpack(&output.image, &unpacked);
    let release = unpacked.join("usr/lib/extension-release.d/extension-release.wasmedge");
    insta::assert_snapshot!(std::fs::read_to_string(release).expect("release"));
}

#[test]
fn sysupdate_transfer_file_names_the_versioned_images() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    let mut spec = BakeSpec::new("wasmedge", "0.14.1", Architecture::X86_64);
    spec.sysupdate_url = Some("https://example.org/extensions/".to_owned());
    let output = bake_image(&tree_of(&input), &spec, work.path()).expect("bake");
    let transfer = output.transfer.expect("transfer file");
    assert_eq!(transfer.file_name().expect("name"), "wasmedge.conf");
    insta::assert_snapshot!(std::fs::read_to_string(transfer).expect("read"));
}

#[test]
fn files_outside_usr_and_opt_are_kept_and_reported() {
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in");
    sample_dir(&input);
    crate::support::write(&input, "etc/wasmedge.conf", b"x=1\n", 0o644);
    let output = bake_dir(&input, "wasmedge", work.path());
    let ignored: Vec<_> = output
        .ignored
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(ignored, ["etc/wasmedge.conf"]);
}
