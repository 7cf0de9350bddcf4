//! The nnedge preset with a binary that needs libraries the sysroot lacks, laid out like the
//! portable build (`libllama.so`, `libggml*.so` and ggml's CPU backend modules beside the
//! binary). Stand-ins: a copy of `env` that needs `libllama.so`, and copies of the host's
//! zlib renamed and given the dependencies of the real libraries.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use nnedge_sysext::{bake_image, Architecture, NnedgePreset, SysextError};

use crate::preset::stand_in_sysroot;
use crate::support::{require_tool, run, unpack, write};

/// A small host library that needs nothing but libc, to stand in for llama.cpp's.
const ZLIB: &str = "/lib/x86_64-linux-gnu/libz.so.1";

/// `patchelf ARGS FILE`.
fn patchelf(args: &[&str], file: &Path) {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    all.push(file.as_os_str());
    run("patchelf", &all);
}

/// A copy of zlib at `path` that also needs `needs`.
fn stand_in_library(path: &Path, needs: &[&str]) {
    std::fs::copy(ZLIB, path).expect("copy zlib");
    for need in needs {
        patchelf(&["--add-needed", need], path);
    }
}

/// The portable layout in `dir/lib`: `nnedge` (env) needs `libllama.so`, which needs
/// `libggml.so.0` (a symlink, as cmake installs it); two CPU modules; unrelated files.
fn portable_folder(dir: &Path) -> PathBuf {
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).expect("mkdir");
    let binary = lib.join("nnedge");
    std::fs::copy("/usr/bin/env", &binary).expect("copy env");
    patchelf(&["--add-needed", "libllama.so"], &binary);
    stand_in_library(&lib.join("libllama.so"), &["libggml.so.0"]);
    stand_in_library(&lib.join("libggml.so.0.26.0"), &[]);
    symlink("libggml.so.0.26.0", lib.join("libggml.so.0")).expect("ln");
    stand_in_library(&lib.join("libggml-cpu-x64.so"), &["libggml.so.0"]);
    stand_in_library(&lib.join("libggml-cpu-haswell.so"), &["libggml.so.0"]);
    stand_in_library(&lib.join("libunrelated.so"), &[]);
    write(&lib, "notes.txt", b"not a library", 0o644);
    binary
}

/// The preset on the stand-in sysroot with `binary`, or `None` (skipped).
fn preset_with(dir: &Path, binary: PathBuf) -> Option<NnedgePreset> {
    if !require_tool("patchelf", "patchelf") || !require_tool("unsquashfs", "squashfs-tools") {
        return None;
    }
    if !Path::new(ZLIB).is_file() {
        crate::support::skip(&format!("{ZLIB} is missing (Debian package zlib1g)"));
        return None;
    }
    let sysroot = stand_in_sysroot(dir)?;
    let guests = dir.join("guests");
    write(&guests, "hello.wasm", b"\0asm\x01\0\0\0", 0o644);
    Some(NnedgePreset {
        binary,
        sysroot,
        guests,
        enable_service: false,
        architecture: Architecture::X86_64,
    })
}

/// What the binary needs, transitively, and every CPU module are bundled beside it, nothing
/// else; its RPATH becomes `$ORIGIN`, and the unpacked launcher runs it with them.
#[test]
fn needed_libraries_and_cpu_modules_are_bundled_beside_the_binary() {
    let work = tempfile::tempdir().expect("tempdir");
    if !Path::new("/usr/bin/env").is_file() {
        return crate::support::skip("/usr/bin/env is missing");
    }
    let Some(preset) = preset_with(work.path(), portable_folder(work.path())) else {
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

    let lib = root.join("usr/lib/nnedge");
    let mut bundled: Vec<String> = std::fs::read_dir(&lib)
        .expect("read the image's lib/nnedge")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    bundled.sort();
    let expected = [
        "guests",
        "libggml-cpu-haswell.so",
        "libggml-cpu-x64.so",
        "libggml.so.0",
        "libllama.so",
        "nnedge",
        "sysroot",
    ];
    assert_eq!(bundled, expected);

    let binary = lib.join("nnedge");
    let rpath = run("patchelf", &["--print-rpath".as_ref(), binary.as_os_str()]);
    assert_eq!(rpath.trim(), "$ORIGIN");

    // The loader finds libllama.so and libggml.so.0 only through $ORIGIN: the launcher's
    // --library-path holds the sysroot alone.
    let ran = Command::new(root.join("usr/bin/nnedge"))
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run the launcher");
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
}

/// A needed library that is neither in the sysroot nor beside the binary, and ggml without
/// CPU modules, are refused with what is missing.
#[test]
fn a_missing_library_or_no_cpu_module_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let binary = portable_folder(work.path());
    let Some(preset) = preset_with(work.path(), binary.clone()) else {
        return;
    };
    let lib = binary.parent().expect("folder").to_owned();

    std::fs::rename(lib.join("libggml.so.0"), work.path().join("aside")).expect("mv");
    let err = preset.tree().expect_err("missing libggml");
    assert!(
        matches!(&err, SysextError::MissingLibrary { library, .. } if library == "libggml.so.0"),
        "{err}"
    );
    assert!(
        err.to_string().contains("cargo xtask build --portable"),
        "{err}"
    );
    std::fs::rename(work.path().join("aside"), lib.join("libggml.so.0")).expect("mv back");

    for module in ["libggml-cpu-x64.so", "libggml-cpu-haswell.so"] {
        std::fs::remove_file(lib.join(module)).expect("rm");
    }
    let err = preset.tree().expect_err("no modules");
    assert!(
        matches!(&err, SysextError::NoCpuBackendModules { dir } if *dir == lib),
        "{err}"
    );
}
