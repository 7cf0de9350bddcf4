//! Traps and the call-depth limit of `nnedge run`, in AOT code and in the interpreter: the
//! message names the trap and the function, unbounded recursion stops at the limit with a
//! message (never a signal), and recursion within the limit runs as before.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{nnedge, run_nnedge};

/// `nnedge run`'s default call-depth limit.
const LIMIT: u32 = 10_000;

/// The two ways nnedge runs a module: AOT (the default) and WasmEdge's interpreter.
const MODES: [&[&str]; 2] = [&[], &["--force-interpreter"]];

fn write_wat(wat: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".wasm").tempfile().unwrap();
    fs_err::write(file.path(), wat::parse_str(wat).unwrap()).unwrap();
    file
}

/// Runs `nnedge run [flags] module`; returns (exit code, stdout, stderr).
fn run(flags: &[&str], module: &Path) -> (i32, String, String) {
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.push(module.to_str().unwrap());
    run_nnedge(&args)
}

/// A module whose `_start` calls `$recurse` with `levels`, which recurses down to 0 (so
/// `levels + 2` frames in all), then prints `reached LEVELS`; each frame of `$recurse` keeps
/// `locals` i64 values live across its call.
fn recursion(levels: u32, locals: usize) -> String {
    let declared = "(local i64)".repeat(locals);
    let fill: String = (0..locals)
        .map(|i| {
            format!(
                "(local.set {} (i64.load offset={} (i32.const 0)))",
                i + 1,
                i * 8
            )
        })
        .collect();
    let sum: String = (0..locals)
        .map(|i| format!("(i64.add (local.get {}))", i + 1))
        .collect();
    let message = format!("reached {levels}\n");
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{escaped}")
  (func $recurse (param $n i32) (result i32) {declared}
    {fill}
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (i32.add (call $recurse (i32.sub (local.get $n) (i32.const 1))) (i32.const 1))
    (i64.store (i32.const 32) (i64.const 0) {sum})
  )
  (func (export "_start")
    (if (i32.ne (call $recurse (i32.const {levels})) (i32.const {levels})) (then unreachable))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
        escaped = message.replace('\n', "\\n"),
        len = message.len(),
    )
}

/// Before the limit, unbounded recursion killed nnedge with SIGSEGV in AOT code and grew the
/// interpreter's memory without bound.
#[test]
fn regression_unbounded_recursion_stops_at_the_limit_with_a_message() {
    let module = write_wat(
        r#"(module
  (func $recurse (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "_start") (drop (call $recurse (i32.const 0)))))"#,
    );
    for mode in MODES {
        let (status, peak, err) = run_watched(mode, module.path());
        assert_eq!(status.signal(), None, "{mode:?}: killed by a signal: {err}");
        assert_eq!(status.code(), Some(1), "{mode:?}: {err}");
        assert!(
            err.contains(
                "trapped in function `recurse`: call stack exhausted (more than 10000 nested calls"
            ),
            "{mode:?}: {err}"
        );
        assert!(err.contains("--max-call-depth"), "{mode:?}: {err}");
        assert!(
            peak > 0 && peak < MEMORY_BOUND,
            "{mode:?}: peak RSS {peak} bytes"
        );
    }
}

/// More than nnedge needs to run a small guest (about 90 MiB) plus the deepest stack the
/// limit allows; an interpreter without a limit passes it in well under a second.
const MEMORY_BOUND: u64 = 512 << 20;

/// Runs nnedge, sampling its peak RSS (`VmHWM`) until it exits; kills it once the peak passes
/// [`MEMORY_BOUND`] or a minute has gone by. Returns (status, peak RSS in bytes, stderr).
fn run_watched(flags: &[&str], module: &Path) -> (std::process::ExitStatus, u64, String) {
    let mut child = nnedge()
        .arg("run")
        .args(flags)
        .arg(module)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let started = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        peak = peak.max(peak_rss(&status_file));
        if peak >= MEMORY_BOUND || started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status, peak, err)
}

/// `VmHWM` of a running process in bytes; 0 once it has exited.
fn peak_rss(status_file: &str) -> u64 {
    let status = std::fs::read_to_string(status_file).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn recursion_to_the_limit_completes_and_one_more_level_traps() {
    let within = write_wat(&recursion(LIMIT - 2, 0));
    let beyond = write_wat(&recursion(LIMIT - 1, 0));
    for mode in MODES {
        let (code, out, err) = run(mode, within.path());
        assert_eq!(
            (code, out.as_str()),
            (0, "reached 9998\n"),
            "{mode:?}: {err}"
        );
        let (code, out, err) = run(mode, beyond.path());
        assert_eq!(code, 1, "{mode:?}: {out} {err}");
        assert!(err.contains("call stack exhausted"), "{mode:?}: {err}");
    }
}

/// The worst realistic frame: a thousand i64 values live across each recursive call. The
/// limit must trap before AOT code overflows the native stack.
#[test]
fn deep_recursion_with_large_frames_traps_cleanly() {
    let module = write_wat(&recursion(1_000_000, 1000));
    for mode in MODES {
        let (status, _, err) = run_watched(mode, module.path());
        assert_eq!(status.signal(), None, "{mode:?}: killed by a signal: {err}");
        assert_eq!(status.code(), Some(1), "{mode:?}: {err}");
        assert!(
            err.contains("trapped in function `recurse`: call stack exhausted"),
            "{mode:?}: {err}"
        );
    }
}

#[test]
fn max_call_depth_sets_the_limit() {
    let module = write_wat(&recursion(600, 0));
    for mode in MODES {
        let mut flags = mode.to_vec();
        flags.extend(["--max-call-depth", "500"]);
        let (code, _, err) = run(&flags, module.path());
        assert_eq!(code, 1, "{mode:?}: {err}");
        assert!(
            err.contains("(more than 500 nested calls"),
            "{mode:?}: {err}"
        );
    }
    let (code, _, err) = run(&["--max-call-depth", "0"], module.path());
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_trap_names_the_function_it_happened_in() {
    let module = write_wat(
        r#"(module
  (memory 1)
  (func $boom unreachable)
  (func $out_of_bounds (drop (i32.load (i32.const 70000))))
  (func $helper (param i32) (if (local.get 0) (then (call $boom)) (else (call $out_of_bounds))))
  (func $quiet)
  (func (export "_start")
    (call $quiet)
    (call $helper (i32.const 1))))"#,
    );
    for mode in MODES {
        let (code, _, err) = run(mode, module.path());
        assert_eq!(code, 1, "{mode:?}: {err}");
        assert!(
            err.contains("trapped in function `boom`: unreachable"),
            "{mode:?}: {err}"
        );
    }
}

/// A hardware fault in AOT code (an out-of-bounds load) must see the function's entry too.
#[test]
fn an_out_of_bounds_access_names_the_function() {
    let module = write_wat(
        r#"(module
  (memory 1)
  (func $out_of_bounds (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "_start") (drop (call $out_of_bounds (i32.const 70000)))))"#,
    );
    for mode in MODES {
        let (code, _, err) = run(mode, module.path());
        assert_eq!(code, 1, "{mode:?}: {err}");
        assert!(
            err.contains("trapped in function `out_of_bounds`: "),
            "{mode:?}: {err}"
        );
        assert!(err.contains("out of bounds"), "{mode:?}: {err}");
    }
}

#[test]
fn a_module_without_names_gets_the_function_index() {
    let module = write_wat(
        r#"(module
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
  (func unreachable)
  (func (export "_start") (drop (call 0)) (call 1)))"#,
    );
    for mode in MODES {
        let (code, _, err) = run(mode, module.path());
        assert_eq!(code, 1, "{mode:?}: {err}");
        assert!(
            err.contains("trapped in function #1: unreachable"),
            "{mode:?}: {err}"
        );
    }
}

/// A module that carries native code runs as it is: no limit, no function in its traps.
#[test]
fn a_precompiled_module_runs_uninstrumented() {
    let source =
        write_wat(r#"(module (func $boom unreachable) (func (export "_start") (call $boom)))"#);
    let dir = tempfile::tempdir().unwrap();
    let compiled = dir.path().join("boom.aot.wasm");
    let (code, _, err) = run_nnedge(&[
        "compile",
        source.path().to_str().unwrap(),
        compiled.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["-v"], &compiled);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("trapped: unreachable"), "{err}");
    assert!(err.contains("without a call-depth limit"), "{err}");
}
