//! Guest start-up and execution speed of `nnedge run`: WasmEdge's interpreter against the
//! cached AOT build.
//!
//! Measures, with the real `nnedge` binary and the `hello` guest, interleaving the two modes
//! so machine drift hits both:
//! - start-up: wall time of `nnedge run hello.wasm` (process start, module load, guest
//!   `_start`, exit), which bounds the time from process start to the guest's `_start`;
//! - compute: wall time of `hello --compute N` (naive recursive fib, default N = 30).
//!
//! Usage: `runtime [--nnedge PATH] [--guest PATH] [--reps N] [--fib N]`; defaults come from
//! `$NNEDGE_CACHE` (as `cargo xtask build` lays it out).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use nnedge_benches::machine::Machine;
use nnedge_benches::stats::Summary;

struct Options {
    nnedge: PathBuf,
    guest: PathBuf,
    reps: usize,
    fib: u32,
}

fn main() -> Result<()> {
    let options = parse()?;
    let version = Command::new(&options.nnedge).arg("--version").output()?;
    println!("machine: {}", Machine::detect());
    println!(
        "nnedge:  {}",
        String::from_utf8_lossy(&version.stdout).trim()
    );
    println!(
        "runtime: WasmEdge 0.14.1, guest {}",
        options.guest.display()
    );
    println!(
        "reps:    {} per mode, interleaved; fib({})\n",
        options.reps, options.fib
    );

    // One untimed run of each, so the AOT cache is warm and files are in the page cache.
    time_run(&options, true, &[])?;
    time_run(&options, false, &[])?;

    let fib = options.fib.to_string();
    let compute = ["--compute", fib.as_str()];
    let (mut start_i, mut start_a, mut comp_i, mut comp_a) = (vec![], vec![], vec![], vec![]);
    for _ in 0..options.reps {
        start_i.push(time_run(&options, true, &[])?);
        start_a.push(time_run(&options, false, &[])?);
        comp_i.push(time_run(&options, true, &compute)?);
        comp_a.push(time_run(&options, false, &compute)?);
    }
    println!("| test | interpreter (ms) | AOT (ms) | interpreter / AOT |");
    println!("|---|---|---|---|");
    report("start-up (hello)", &start_i, &start_a);
    report(&format!("fib({})", options.fib), &comp_i, &comp_a);
    // The guest's own compute time: each run minus the median start-up of its mode.
    let net = |runs: &[f64], start: &[f64]| {
        let base = Summary::of(start).map_or(0.0, |s| s.median);
        runs.iter().map(|r| (r - base).max(0.0)).collect::<Vec<_>>()
    };
    report(
        &format!("fib({}) minus start-up", options.fib),
        &net(&comp_i, &start_i),
        &net(&comp_a, &start_a),
    );
    Ok(())
}

fn report(name: &str, interpreter: &[f64], aot: &[f64]) {
    let (Some(i), Some(a)) = (Summary::of(interpreter), Summary::of(aot)) else {
        return;
    };
    println!(
        "| {name} | {:.1} ± {:.1} (median {:.1}) | {:.1} ± {:.1} (median {:.1}) | {:.1}x |",
        i.mean,
        i.stddev,
        i.median,
        a.mean,
        a.stddev,
        a.median,
        i.median / a.median
    );
}

/// Runs the guest once and returns the wall time in milliseconds.
fn time_run(options: &Options, interpreter: bool, args: &[&str]) -> Result<f64> {
    let mut cmd = Command::new(&options.nnedge);
    cmd.arg("run");
    if interpreter {
        cmd.arg("--force-interpreter");
    }
    cmd.arg(&options.guest).args(args);
    let start = Instant::now();
    let output = cmd
        .output()
        .with_context(|| format!("failed to run {}", options.nnedge.display()))?;
    let elapsed = start.elapsed().as_secs_f64() * 1000.0;
    if !output.status.success() {
        bail!(
            "nnedge run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(elapsed)
}

fn parse() -> Result<Options> {
    let cache = std::env::var_os("NNEDGE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/nnedge")
        });
    let mut options = Options {
        nnedge: cache.join("target/host/release/nnedge"),
        guest: cache.join("guests/hello.wasm"),
        reps: 5,
        fib: 30,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--nnedge" => options.nnedge = value.into(),
            "--guest" => options.guest = value.into(),
            "--reps" => options.reps = value.parse().context("--reps takes a number")?,
            "--fib" => options.fib = value.parse().context("--fib takes a number")?,
            other => bail!("unknown option {other}; see the header of benches/src/bin/runtime.rs"),
        }
    }
    Ok(options)
}
