//! Shared helpers: sample trees, tool discovery with skip-or-fail, and unsquashfs wrappers.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use nnedge_sysext::{bake_image, Architecture, BakeOutput, BakeSpec, Tree};

/// Whether `tool` is on PATH; prints a skip message if not, and panics when CI is set.
pub fn require_tool(tool: &str, package: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        skip(&format!("`{tool}` is missing (Debian package {package})"));
    }
    found
}

/// Prints why a test is skipped; panics instead when the CI variable is set.
pub fn skip(reason: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "prerequisite missing under CI: {reason}"
    );
    eprintln!("skipped: {reason}");
}

/// Writes `contents` at `root/relative` with `mode`, creating parents.
pub fn write(root: &Path, relative: &str, contents: &[u8], mode: u32) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, contents).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A small tree like a WasmEdge install: an executable, libraries, a symlink, a header,
/// a file under opt/, an empty directory, odd input modes to be normalised, and two
/// large files that share their first 128 KiB block but differ after it.
pub fn sample_dir(root: &Path) {
    write(
        root,
        "usr/bin/wasmedge",
        b"#!/bin/sh\necho wasmedge\n",
        0o700,
    );
    write(
        root,
        "usr/lib64/libwasmedge.so.0.1.0",
        &pattern(300_000, 7),
        0o664,
    );
    symlink(
        "libwasmedge.so.0.1.0",
        root.join("usr/lib64/libwasmedge.so.0"),
    )
    .expect("ln");
    symlink(
        "/usr/lib64/libwasmedge.so.0",
        root.join("usr/lib64/libwasmedge.so"),
    )
    .expect("ln");
    write(
        root,
        "usr/include/wasmedge/wasmedge.h",
        b"#pragma once\n",
        0o600,
    );
    write(root, "opt/wasmedge/README", b"read me\n", 0o644);
    std::fs::create_dir_all(root.join("usr/share/empty")).expect("mkdir");

    let mut first = pattern(200_000, 3);
    let mut second = first.clone();
    first.extend_from_slice(b"tail one");
    second.extend_from_slice(b"the other tail");
    write(root, "usr/share/data/first.bin", &first, 0o644);
    write(root, "usr/share/data/second.bin", &second, 0o644);
}

/// Deterministic, mildly compressible bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i / 7) as u8).wrapping_mul(seed) ^ (i % 13) as u8)
        .collect()
}

/// Reads `dir` into a tree.
pub fn tree_of(dir: &Path) -> Tree {
    let mut tree = Tree::new();
    tree.add_dir("", dir).expect("read tree");
    tree
}

/// Bakes `dir` as `name` version 1.0 for x86-64 into `out`.
pub fn bake_dir(dir: &Path, name: &str, out: &Path) -> BakeOutput {
    let spec = BakeSpec::new(name, "1.0", Architecture::X86_64);
    bake_image(&tree_of(dir), &spec, out).expect("bake")
}

/// `unsquashfs -lln` of an image, with the `squashfs-root` prefix removed: one line per
/// entry as `MODE UID/GID PATH[ -> TARGET]` (sizes and dates dropped).
pub fn list(image: &Path) -> Vec<String> {
    let stdout = run("unsquashfs", &["-lln".as_ref(), image.as_os_str()]);
    stdout
        .lines()
        .filter(|line| line.contains("squashfs-root"))
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let path = line
                .split_once("squashfs-root")
                .map(|(_, p)| p)
                .unwrap_or_default();
            let path = if path.is_empty() { "/" } else { path };
            format!("{} {} {}", fields[0], fields[1], path)
        })
        .collect()
}

/// Unpacks an image with unsquashfs into `dest` (which must not exist).
pub fn unpack(image: &Path, dest: &Path) {
    let args = [
        "-q".as_ref(),
        "-n".as_ref(),
        "-d".as_ref(),
        dest.as_os_str(),
        image.as_os_str(),
    ];
    run("unsquashfs", &args);
}

/// Runs a command, panicking with its stderr unless it succeeds; returns stdout.
pub fn run(program: &str, args: &[&std::ffi::OsStr]) -> String {
    let output = Command::new(program).args(args).output().expect(program);
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every regular file under `root`, relative, sorted.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let kind = std::fs::symlink_metadata(&path).expect("stat").file_type();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                found.push(path.strip_prefix(root).expect("prefix").to_owned());
            }
        }
    }
    found.sort();
    found
}
