//! The nnedge preset end to end: the real built binary, the real runtime sysroot and the
//! built guests baked into a sysext image, unpacked into a temporary root and run from there
//! with the development cache out of reach; and `nnedge sysext bake`/`inspect` on the CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use nnedge_sysext::{bake_image, Architecture, Compression, NnedgePreset};

use crate::support::{cache_dir, guest, prerequisite, run_nnedge, texts};

/// The runtime sysroot `cargo xtask` builds, inside the cache.
const SYSROOT: &str = "runtime/wasmedge-0.14.1/sysroot";

/// Whether `tool` runs; a skip message otherwise (a failure under CI).
fn tool(tool: &str, package: &str) -> bool {
    let found = Command::new(tool).arg("--help").output().is_ok();
    if !found {
        let message = format!("`{tool}` is missing (Debian package {package})");
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("skipped: {message}");
    }
    found
}

/// The preset's inputs, or `None` (skipped) when something is not built.
fn preset() -> Option<NnedgePreset> {
    if !tool("unsquashfs", "squashfs-tools") || !tool("patchelf", "patchelf") {
        return None;
    }
    let sysroot = prerequisite(cache_dir().join(SYSROOT), "runtime sysroot")?;
    let hello = guest("hello")?;
    Some(NnedgePreset {
        binary: PathBuf::from(env!("CARGO_BIN_EXE_nnedge")),
        sysroot,
        guests: hello.parent().expect("guest folder").to_owned(),
        enable_service: false,
        architecture: Architecture::X86_64,
    })
}

/// Unpacks `image` into `root` with Debian's unsquashfs.
fn unpack(image: &Path, root: &Path) {
    let output = Command::new("unsquashfs")
        .args(["-q", "-n", "-d"])
        .args([root, image])
        .output()
        .expect("run unsquashfs");
    assert!(output.status.success(), "{:?}", texts(&output));
}

/// `ROOT/usr/bin/nnedge run hello.wasm hi` with a fresh HOME and cache, `LD_DEBUG` set to
/// `ld_debug` (empty: unset); returns (success, stdout, stderr).
fn run_unpacked(root: &Path, scratch: &Path, ld_debug: &str) -> (bool, String, String) {
    let (home, cache) = (scratch.join("home"), scratch.join("cache"));
    fs_err::create_dir_all(&home).unwrap();
    fs_err::create_dir_all(&cache).unwrap();
    let mut command = Command::new(root.join("usr/bin/nnedge"));
    command
        .arg("run")
        .arg(root.join("usr/lib/nnedge/guests/hello.wasm"))
        .arg("hi")
        .env("HOME", &home)
        .env("NNEDGE_CACHE", &cache)
        .env_remove("NNEDGE_GUEST_DIR")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("RUST_LOG");
    if !ld_debug.is_empty() {
        command.env("LD_DEBUG", ld_debug);
    }
    let output = command.output().expect("run the unpacked launcher");
    let (out, err) = texts(&output);
    (output.status.success(), out, err)
}

/// The baked binary runs hello from an unpacked root, on the bundled sysroot only: the
/// loader loads nothing from the development cache nor from the host's library folders.
#[test]
fn baked_preset_runs_hello_from_an_unpacked_root_on_its_own_libraries() {
    let Some(preset) = preset() else { return };
    let work = tempfile::tempdir().unwrap();
    let mut spec = preset.spec("0.0.1");
    spec.compression = Compression::Lz4;
    let tree = preset.tree().expect("lay out the preset");
    let output = bake_image(&tree, &spec, work.path()).expect("bake");
    let root = work.path().join("root");
    unpack(&output.image, &root);

    let (ok, out, err) = run_unpacked(&root, work.path(), "");
    assert!(ok, "{out}\n{err}");
    assert_eq!(out, "Hello from nnedge!\narg: hi\n");

    let (ok, out, err) = run_unpacked(&root, work.path(), "libs");
    assert!(ok, "{out}\n{err}");
    // The launcher names the program after the path it was started by (`--argv0 "$0"`).
    let launcher = root.join("usr/bin/nnedge");
    let loaded = libraries_loaded_by(path(&launcher), &err);
    let image = root.canonicalize().unwrap();
    let sysroot_libs = image.join("usr/lib/nnedge/sysroot/usr/lib");
    assert!(
        loaded
            .iter()
            .any(|l| l.contains("libwasmedge") && Path::new(l).starts_with(&sysroot_libs)),
        "libwasmedge not loaded from the image: {loaded:?}\n{err}"
    );
    let foreign: Vec<&&str> = loaded
        .iter()
        .filter(|l| !Path::new(l).starts_with(&image))
        .collect();
    assert!(foreign.is_empty(), "loaded outside the image: {foreign:?}");

    // Not even looked for in the development cache.
    let dev_cache = cache_dir();
    let searched: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(dev_cache.to_str().expect("UTF-8 cache path")))
        .collect();
    assert!(
        searched.is_empty(),
        "development cache searched: {searched:?}"
    );
}

/// `nnedge sysext bake --preset nnedge` on the CLI, then `nnedge sysext inspect` on the image:
/// the tree with owners and modes, the release file, and no reason to refuse it.
#[test]
fn cli_bakes_the_preset_and_inspects_the_image() {
    let Some(preset) = preset() else { return };
    let work = tempfile::tempdir().unwrap();
    let (code, out, err) = run_nnedge(&[
        "sysext",
        "bake",
        "--preset",
        "nnedge",
        "--binary",
        path(&preset.binary),
        "--sysroot",
        path(&preset.sysroot),
        "--guests",
        path(&preset.guests),
        "--version",
        "0.0.1",
        "--compression",
        "lz4",
        "--out-dir",
        path(work.path()),
    ]);
    assert_eq!(code, 0, "{err}");
    let image = work.path().join("nnedge-0.0.1-x86-64.raw");
    assert_eq!(out.trim(), path(&image));

    let (code, out, err) = run_nnedge(&["sysext", "inspect", path(&image)]);
    assert_eq!(code, 0, "{err}");
    let mut expected = vec![
        "-rwxr-xr-x 0/0 /usr/bin/nnedge\n".to_owned(),
        "-rwxr-xr-x 0/0 /usr/lib/nnedge/nnedge\n".to_owned(),
        "-rw-r--r-- 0/0 /usr/lib/systemd/system/nnedge.service\n".to_owned(),
        "# extension-release.nnedge\nID=_any\nARCHITECTURE=x86-64\n".to_owned(),
        "systemd-sysext would merge this image".to_owned(),
    ];
    // Every built guest is bundled, as a plain file.
    for entry in fs_err::read_dir(&preset.guests).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".wasm") {
            expected.push(format!("-rw-r--r-- 0/0 /usr/lib/nnedge/guests/{name}\n"));
        }
    }
    for expected in &expected {
        assert!(
            out.contains(expected.as_str()),
            "`{expected}` missing:\n{out}"
        );
    }
    assert!(!out.contains("EXTENSION_RELOAD_MANAGER"), "{out}");
}

/// The libraries the dynamic loader initialised for the process image that ran as
/// `program`, from `LD_DEBUG=libs` output: the launcher is a bash script (run on the host's
/// bash, readlink and dirname, which load the host's libc) that execs the bundled loader in
/// the same process, so only that process's lines after bash's own start count.
pub(crate) fn libraries_loaded_by<'a>(program: &str, ld_debug: &'a str) -> Vec<&'a str> {
    let lines: Vec<(&str, &str)> = ld_debug
        .lines()
        .filter_map(|line| line.trim_start().split_once(':'))
        .map(|(pid, message)| (pid, message.trim()))
        .collect();
    let started = format!("transferring control: {program}");
    let Some(end) = lines.iter().position(|(_, m)| *m == started) else {
        panic!("`{program}` never started:\n{ld_debug}");
    };
    let pid = lines[end].0;
    // The image before it in this process (bash) handed over control at `start`.
    let start = lines[..end]
        .iter()
        .rposition(|(p, m)| *p == pid && m.starts_with("transferring control: "))
        .map_or(0, |i| i + 1);
    lines[start..]
        .iter()
        .filter(|(p, _)| *p == pid)
        .filter_map(|(_, m)| m.strip_prefix("calling init: "))
        .collect()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}
