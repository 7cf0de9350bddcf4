//! The nnedge preset with small stand-ins: the host's own loader and libc as the runtime
//! sysroot, a copy of `env` (it prints the environment it gets) as the nnedge binary.
//!
//! The real end-to-end check (`nnedge run hello.wasm` from an unpacked image, with the
//! trixie sysroot and the built nnedge) belongs with the nnedge binary's tests, which
//! know where those are built.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use nnedge_sysext::{bake_image, Architecture, NnedgePreset, SysextError};

use crate::support::{list, require_tool, run, unpack, write};

const HOST_LIBS: &str = "/lib/x86_64-linux-gnu";

/// A sysroot holding the host's loader and libc, a `usr/lib/lib` compatibility link, an
/// absolute link to be made relative; `None` when the host has no such files.
pub fn stand_in_sysroot(dir: &Path) -> Option<PathBuf> {
    let sysroot = dir.join("sysroot");
    let libs = sysroot.join("usr/lib/x86_64-linux-gnu");
    std::fs::create_dir_all(&libs).expect("mkdir");
    for lib in ["ld-linux-x86-64.so.2", "libc.so.6"] {
        if std::fs::copy(Path::new(HOST_LIBS).join(lib), libs.join(lib)).is_err() {
            crate::support::skip(&format!("{HOST_LIBS}/{lib} is missing"));
            return None;
        }
    }
    std::fs::create_dir_all(sysroot.join("usr/lib/lib")).expect("mkdir");
    symlink(
        "../x86_64-linux-gnu/libc.so.6",
        sysroot.join("usr/lib/lib/libc.so.6"),
    )
    .expect("ln");
    std::fs::create_dir_all(sysroot.join("usr/lib64")).expect("mkdir");
    let loader = "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";
    symlink(loader, sysroot.join("usr/lib64/ld-linux-x86-64.so.2")).expect("ln");
    Some(sysroot)
}

/// A copy of `env` whose DT_RPATH points at a folder with a broken libc.so.6: run with
/// that RPATH, the loader would pick the broken copy before `--library-path`.
fn stand_in_binary(dir: &Path) -> PathBuf {
    let trap = dir.join("dev-cache-lib");
    write(&trap, "libc.so.6", b"not an ELF file", 0o755);
    let binary = dir.join("nnedge");
    std::fs::copy("/usr/bin/env", &binary).expect("copy env");
    let rpath = trap.to_str().expect("utf-8 temp path");
    run(
        "patchelf",
        &[
            "--force-rpath".as_ref(),
            "--set-rpath".as_ref(),
            rpath.as_ref(),
            binary.as_os_str(),
        ],
    );
    binary
}

fn stand_in_preset(dir: &Path, enable_service: bool) -> Option<NnedgePreset> {
    if !require_tool("patchelf", "patchelf") || !require_tool("unsquashfs", "squashfs-tools") {
        return None;
    }
    let sysroot = stand_in_sysroot(dir)?;
    let guests = dir.join("guests");
    write(&guests, "hello.wasm", b"\0asm\x01\0\0\0", 0o644);
    write(&guests, "notes.txt", b"not a guest", 0o644);
    Some(NnedgePreset {
        binary: stand_in_binary(dir),
        sysroot,
        guests,
        enable_service,
        architecture: Architecture::X86_64,
    })
}

#[test]
fn preset_layout_is_listed_by_unsquashfs() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(preset) = stand_in_preset(work.path(), true) else {
        return;
    };
    let tree = preset.tree().expect("layout");
    let output = bake_image(&tree, &preset.spec("0.1.0"), &work.path().join("out")).expect("bake");
    assert_eq!(
        output.image.file_name().expect("name"),
        "nnedge-0.1.0-x86-64.raw"
    );
    insta::assert_snapshot!(list(&output.image).join("\n"));
}

#[test]
fn unpacked_launcher_runs_the_binary_from_anywhere_with_the_bundled_loader() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(preset) = stand_in_preset(work.path(), false) else {
        return;
    };
    let output = bake_image(
        &preset.tree().expect("layout"),
        &preset.spec("0.1.0"),
        work.path(),
    )
    .expect("bake");
    let root = work.path().join("root");
    unpack(&output.image, &root);

    // The binary lost its DT_RPATH; otherwise the trap libc would be loaded and fail.
    let binary = root.join("usr/lib/nnedge/nnedge");
    let rpath = run("patchelf", &["--print-rpath".as_ref(), binary.as_os_str()]);
    assert_eq!(rpath.trim(), "", "RPATH left in the image");

    // Run through a symlink elsewhere: the launcher resolves its own location.
    let elsewhere = work.path().join("bin-link");
    symlink(root.join("usr/bin/nnedge"), &elsewhere).expect("ln");
    let env = Command::new(&elsewhere)
        .env_remove("NNEDGE_GUEST_DIR")
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&env.stdout);
    assert!(
        env.status.success(),
        "{}",
        String::from_utf8_lossy(&env.stderr)
    );
    let guests = root.join("usr/lib/nnedge/guests");
    assert!(
        stdout.contains(&format!("NNEDGE_GUEST_DIR={}\n", guests.display())),
        "{stdout}"
    );

    // A guest folder chosen by the caller wins.
    let env = Command::new(&elsewhere)
        .env("NNEDGE_GUEST_DIR", "/srv/guests")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&env.stdout).contains("NNEDGE_GUEST_DIR=/srv/guests\n"));
}

#[test]
fn launcher_and_units_match_their_snapshots() {
    insta::assert_snapshot!(
        "launcher",
        nnedge_sysext::render_launcher(Architecture::X86_64)
    );
    insta::assert_snapshot!("service", nnedge_sysext::SERVICE_UNIT);
    insta::assert_snapshot!("service_enable", nnedge_sysext::SERVICE_ENABLE);
}

#[test]
fn the_service_is_disabled_unless_asked() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(preset) = stand_in_preset(work.path(), false) else {
        return;
    };
    let tree = preset.tree().expect("layout");
    assert!(tree.get(nnedge_sysext::SERVICE_PATH).is_some());
    assert!(tree.get(nnedge_sysext::SERVICE_ENABLE_PATH).is_none());
    assert!(!preset.spec("1").reload_manager);

    let enabled = NnedgePreset {
        enable_service: true,
        ..preset
    };
    assert!(enabled
        .tree()
        .expect("layout")
        .get(nnedge_sysext::SERVICE_ENABLE_PATH)
        .is_some());
    assert!(enabled.spec("1").reload_manager);
}

#[test]
fn absolute_sysroot_links_are_made_relative() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(preset) = stand_in_preset(work.path(), false) else {
        return;
    };
    let tree = preset.tree().expect("layout");
    let link = tree.get("usr/lib/nnedge/sysroot/usr/lib64/ld-linux-x86-64.so.2");
    let expected = PathBuf::from("../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    assert_eq!(
        link,
        Some(&nnedge_sysext::TreeEntry::Symlink { target: expected })
    );
}

#[test]
fn a_sysroot_without_the_loader_or_no_guests_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(preset) = stand_in_preset(work.path(), false) else {
        return;
    };

    let empty = work.path().join("empty-sysroot");
    std::fs::create_dir_all(empty.join("usr/lib")).expect("mkdir");
    let no_loader = NnedgePreset {
        sysroot: empty,
        ..preset.clone()
    };
    let err = no_loader.tree().expect_err("no loader");
    assert!(
        matches!(err, SysextError::SysrootWithoutLoader { .. }),
        "{err}"
    );

    let no_wasm = work.path().join("no-guests");
    write(&no_wasm, "readme", b"x", 0o644);
    let no_guests = NnedgePreset {
        guests: no_wasm,
        ..preset
    };
    let err = no_guests.tree().expect_err("no guests");
    assert!(matches!(err, SysextError::NoGuests { .. }), "{err}");
}

/// The runtime sysroot the project's set-up builds (see docs/ENVIRONMENT.md, section 1).
const CACHED_SYSROOT: &str = ".cache/nnedge/runtime/wasmedge-0.14.1/sysroot";

/// The guests the project's set-up builds.
const CACHED_GUESTS: &str = ".cache/nnedge/guests";

/// The real trixie sysroot and the real hello guest, with the sysroot's own `wasmedge`
/// CLI standing in for the nnedge binary (it runs a guest given as its first argument):
/// baked, unpacked into a temporary root and run there on this bookworm host, whose glibc
/// is older than the sysroot's. lz4 keeps the 180 MB bake quick in debug builds.
#[test]
fn the_real_sysroot_runs_a_guest_from_the_unpacked_image() {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let (sysroot, guests) = (home.join(CACHED_SYSROOT), home.join(CACHED_GUESTS));
    if !sysroot.join("usr/bin/wasmedge").is_file() || !guests.join("hello.wasm").is_file() {
        let wanted = format!("{} and {}/hello.wasm", sysroot.display(), guests.display());
        return crate::support::skip(&format!("{wanted} are not built (cargo xtask)"));
    }
    if !require_tool("patchelf", "patchelf") || !require_tool("unsquashfs", "squashfs-tools") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let preset = NnedgePreset {
        binary: sysroot.join("usr/bin/wasmedge"),
        sysroot,
        guests,
        enable_service: true,
        architecture: Architecture::X86_64,
    };
    let mut spec = preset.spec("0.1.0");
    spec.compression = nnedge_sysext::Compression::Lz4;
    let output = bake_image(&preset.tree().expect("layout"), &spec, work.path()).expect("bake");
    let root = work.path().join("root");
    unpack(&output.image, &root);

    let hello = root.join("usr/lib/nnedge/guests/hello.wasm");
    let ran = Command::new(root.join("usr/bin/nnedge"))
        .arg(&hello)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run the launcher");
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(stdout, "Hello from nnedge!\n");
}
