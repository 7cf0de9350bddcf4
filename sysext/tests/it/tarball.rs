//! Release tarballs laid out like WasmEdge's: the root is found, not assumed, and bad
//! members are refused.

use std::io::Write;
use std::path::Path;

use nnedge_sysext::{bake_image, tree_from_tarball, Architecture, BakeSpec, SysextError};

use crate::support::{list, require_tool};

/// One tarball member to write.
enum Member<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
}

/// Writes a tarball (gzip-compressed when `gzip`) holding `members` in order.
fn write_tarball(path: &Path, gzip: bool, members: &[Member<'_>]) {
    let file = std::fs::File::create(path).expect("create");
    let sink: Box<dyn std::io::Write> = if gzip {
        Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(file)
    };
    let mut builder = tar::Builder::new(sink);
    for member in members {
        let mut header = tar::Header::new_gnu();
        match member {
            Member::Dir(name) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                set_raw_name(&mut header, name);
                header.set_cksum();
                builder.append(&header, std::io::empty()).expect("dir");
            }
            Member::File(name, bytes, mode) => {
                header.set_mode(*mode);
                header.set_size(bytes.len() as u64);
                set_raw_name(&mut header, name);
                header.set_cksum();
                builder.append(&header, *bytes).expect("file");
            }
            Member::Symlink(name, target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                header.set_mode(0o777);
                set_raw_name(&mut header, name);
                header.set_link_name(target).expect("link name");
                header.set_cksum();
                builder.append(&header, std::io::empty()).expect("symlink");
            }
        }
    }
    builder
        .into_inner()
        .expect("finish")
        .flush()
        .expect("flush");
}

/// Sets a member name byte for byte, so tests can write names `tar` would refuse.
fn set_raw_name(header: &mut tar::Header, name: &str) {
    let field = &mut header.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

/// A WasmEdge-like release under `top` (empty for none).
fn wasmedge_tarball(path: &Path, top: &str, gzip: bool) {
    let p = |rest: &str| format!("{top}{rest}");
    let names = [
        p("bin/"),
        p("bin/wasmedge"),
        p("lib64/"),
        p("lib64/libwasmedge.so.0.1.0"),
        p("lib64/libwasmedge.so.0"),
        p("include/wasmedge/wasmedge.h"),
        p("LICENSE"),
    ];
    let mut members = vec![
        Member::Dir(&names[0]),
        Member::File(&names[1], b"\x7fELF wasmedge", 0o755),
        Member::Dir(&names[2]),
        Member::File(&names[3], b"\x7fELF libwasmedge", 0o644),
        Member::Symlink(&names[4], "libwasmedge.so.0.1.0"),
        Member::File(&names[5], b"#pragma once\n", 0o644),
        Member::File(&names[6], b"Apache-2.0\n", 0o644),
    ];
    if !top.is_empty() {
        members.insert(0, Member::Dir(top));
    }
    write_tarball(path, gzip, &members);
}

#[test]
fn a_release_tarball_under_one_top_folder_lands_in_usr() {
    if !require_tool("unsquashfs", "squashfs-tools") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let tarball = work.path().join("WasmEdge-0.14.1-Linux.tar.gz");
    wasmedge_tarball(&tarball, "WasmEdge-0.14.1-Linux/", true);
    let tree = tree_from_tarball(&tarball).expect("read tarball");
    let spec = BakeSpec::new("wasmedge", "0.14.1", Architecture::X86_64);
    let output = bake_image(&tree, &spec, work.path()).expect("bake");
    insta::assert_snapshot!(list(&output.image).join("\n"));
}

#[test]
fn a_tarball_without_a_top_folder_gives_the_same_tree() {
    let work = tempfile::tempdir().expect("tempdir");
    let nested = work.path().join("nested.tar.gz");
    let flat = work.path().join("flat.tar");
    wasmedge_tarball(&nested, "WasmEdge-0.14.1-Linux/", true);
    wasmedge_tarball(&flat, "", false);
    let nested = tree_from_tarball(&nested).expect("nested");
    let flat = tree_from_tarball(&flat).expect("flat");
    let paths = |tree: &nnedge_sysext::Tree| {
        tree.entries()
            .map(|(p, e)| (p.to_owned(), e.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(paths(&nested), paths(&flat));
    assert!(flat.get("usr/bin/wasmedge").is_some());
    assert!(
        flat.get("usr/LICENSE").is_none(),
        "loose files at the root are skipped"
    );
}

#[test]
fn a_tarball_without_bin_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let tarball = work.path().join("lib-only.tar.gz");
    write_tarball(
        &tarball,
        true,
        &[
            Member::Dir("top/"),
            Member::File("top/lib/libx.so", b"x", 0o644),
        ],
    );
    let err = tree_from_tarball(&tarball).expect_err("no bin");
    assert!(
        matches!(err, SysextError::TarballWithoutBin { .. }),
        "{err}"
    );
}

#[test]
fn a_tarball_member_with_parent_components_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let tarball = work.path().join("evil.tar");
    write_tarball(
        &tarball,
        false,
        &[
            Member::File("bin/tool", b"x", 0o755),
            Member::File("bin/../../etc/passwd", b"root::0:0::/:/bin/sh\n", 0o644),
        ],
    );
    let err = tree_from_tarball(&tarball).expect_err("..");
    assert!(matches!(err, SysextError::UnsafePath { .. }), "{err}");
}

#[test]
fn a_tarball_symlink_escaping_its_root_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let tarball = work.path().join("escape.tar.gz");
    write_tarball(
        &tarball,
        true,
        &[
            Member::File("top/bin/tool", b"x", 0o755),
            Member::Symlink("top/bin/passwd", "../../etc/passwd"),
        ],
    );
    let err = tree_from_tarball(&tarball).expect_err("escape");
    assert!(matches!(err, SysextError::SymlinkEscapes { .. }), "{err}");
}

#[test]
fn an_xz_tarball_is_refused_with_its_format() {
    let work = tempfile::tempdir().expect("tempdir");
    let tarball = work.path().join("release.tar.xz");
    std::fs::write(&tarball, b"\xfd7zXZ\x00rest").expect("write");
    let err = tree_from_tarball(&tarball).expect_err("xz");
    assert!(
        matches!(err, SysextError::UnsupportedTarball { format: "xz", .. }),
        "{err}"
    );
}
