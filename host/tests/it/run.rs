//! `nnedge run` on the hello guest: output, arguments, environment, preopens, exit codes,
//! traps, the sandbox, AOT and the runtime sysroot.

use std::path::Path;

use crate::support::{guest, nnedge, run_nnedge, texts};

fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

#[test]
fn hello_greets_and_echoes_its_arguments() {
    let Some(hello) = guest("hello") else { return };
    let (code, out, err) = run_nnedge(&["run", path(&hello), "one", "--two", "three four"]);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(
        out,
        "Hello from nnedge!\narg: one\narg: --two\narg: three four\n"
    );
}

#[test]
fn hello_reads_environment_variables() {
    let Some(hello) = guest("hello") else { return };
    let (code, out, _) = run_nnedge(&[
        "run",
        "--env",
        "GREETING=hi=there",
        path(&hello),
        "--env",
        "GREETING",
        "--env",
        "OTHER",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("env: GREETING=hi=there\n"), "{out}");
    assert!(out.contains("env: OTHER is not set\n"), "{out}");
}

#[test]
fn hello_lists_reads_and_writes_a_preopened_directory() {
    let Some(hello) = guest("hello") else { return };
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("b.txt"), "bee\n").unwrap();
    fs_err::write(dir.path().join("a.txt"), "ay\n").unwrap();
    let mapping = format!("{}:/data", path(dir.path()));
    let (code, out, err) = run_nnedge(&[
        "run",
        "--dir",
        &mapping,
        path(&hello),
        "--list",
        "/data",
        "--read",
        "/data/b.txt",
        "--write",
        "/data/new.txt",
        "written by a guest",
    ]);
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.contains("entry: a.txt\nentry: b.txt\n"), "{out}");
    assert!(out.contains("read: bee\n"), "{out}");
    let written = fs_err::read_to_string(dir.path().join("new.txt")).unwrap();
    assert_eq!(written, "written by a guest");
}

#[test]
fn guest_exit_code_becomes_nnedge_exit_code() {
    let Some(hello) = guest("hello") else { return };
    for wanted in [0, 3, 42, 255] {
        let (code, out, _) = run_nnedge(&["run", path(&hello), "--exit", &wanted.to_string()]);
        assert_eq!(code, wanted, "{out}");
    }
}

#[test]
fn guest_cannot_escape_its_preopened_directory() {
    let Some(hello) = guest("hello") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mapping = format!("{}:/data", path(dir.path()));
    for target in [
        "/etc/hostname",
        "/data/../../../etc/hostname",
        "../etc/hostname",
    ] {
        let (code, out, err) =
            run_nnedge(&["run", "--dir", &mapping, path(&hello), "--read", target]);
        // The guest gets a WASI error and reports it itself; nnedge stays up.
        assert_eq!(code, 1, "reading {target}: {out} {err}");
        assert!(err.contains("hello: "), "reading {target}: {err}");
        assert!(!out.contains("read:"), "reading {target} succeeded: {out}");
    }
}

#[test]
fn trap_names_the_trap() {
    let Some(hello) = guest("hello") else { return };
    let (code, out, err) = run_nnedge(&["run", path(&hello), "--trap"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("trapped"), "{err}");
    assert!(err.contains("unreachable"), "{err}");
}

#[test]
fn interpreter_and_aot_give_the_same_output() {
    let Some(hello) = guest("hello") else { return };
    let (code_i, out_i, _) = run_nnedge(&[
        "run",
        "--force-interpreter",
        path(&hello),
        "--compute",
        "20",
    ]);
    let (code_a, out_a, _) = run_nnedge(&["run", path(&hello), "--compute", "20"]);
    assert_eq!((code_i, code_a), (0, 0));
    assert_eq!(out_i, out_a);
    assert!(out_a.contains("fib(20) = 6765"), "{out_a}");
}

#[test]
fn aot_cache_is_keyed_by_module_hash_and_reused() {
    let Some(hello) = guest("hello") else { return };
    let cache = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = nnedge()
            .env("NNEDGE_CACHE", cache.path())
            .args(["run", path(&hello)])
            .output()
            .unwrap();
        assert!(output.status.success(), "{:?}", texts(&output));
    }
    let entries: Vec<_> = fs_err::read_dir(cache.path().join("aot/wasmedge-0.14.1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].len(), 64 + ".wasm".len(), "{entries:?}");
}

#[test]
fn compile_writes_a_module_that_runs() {
    let Some(hello) = guest("hello") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hello.aot.wasm");
    let (code, stdout, err) = run_nnedge(&["compile", path(&hello), path(&out)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stdout.trim(), path(&out));
    assert!(fs_err::metadata(&out).unwrap().len() > fs_err::metadata(&hello).unwrap().len());
    let (code, stdout, _) = run_nnedge(&["run", "--force-interpreter", path(&out), "x"]);
    assert_eq!((code, stdout.as_str()), (0, "Hello from nnedge!\narg: x\n"));
}

/// A module from `nnedge compile` was compiled a second time into the AOT cache.
#[test]
fn regression_precompiled_module_is_not_compiled_again() {
    let Some(hello) = guest("hello") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hello.aot.wasm");
    let (code, _, err) = run_nnedge(&["compile", path(&hello), path(&out)]);
    assert_eq!(code, 0, "{err}");
    let cache = dir.path().join("cache");
    let output = nnedge()
        .env("NNEDGE_CACHE", &cache)
        .args(["run", path(&out), "x"])
        .output()
        .unwrap();
    assert_eq!(texts(&output).0, "Hello from nnedge!\narg: x\n");
    assert!(
        !cache.join("aot").exists(),
        "the precompiled module went through the AOT cache"
    );
}

/// nnedge must load its libc, libstdc++ and libwasmedge from the runtime sysroot only: one
/// library from the host mixed in is how the glibc-version crashes start.
#[test]
fn loads_no_host_library_that_the_sysroot_provides() {
    let Some(hello) = guest("hello") else { return };
    let output = nnedge()
        .env("LD_DEBUG", "libs")
        .args(["run", path(&hello)])
        .output()
        .unwrap();
    let (_, err) = texts(&output);
    assert!(output.status.success(), "{err}");
    let loaded: Vec<&str> = err
        .lines()
        .filter_map(|l| l.split_once("calling init: ").map(|(_, lib)| lib.trim()))
        .collect();
    assert!(
        loaded.iter().any(|l| l.contains("libwasmedge")),
        "{loaded:?}"
    );
    let host_libs: Vec<&&str> = loaded
        .iter()
        .filter(|l| l.starts_with("/lib") || l.starts_with("/usr/lib"))
        .collect();
    assert!(host_libs.is_empty(), "host libraries loaded: {host_libs:?}");
}
