//! Benchmark: baking a sysext image with nnedge-sysext (backhand) against
//! `mksquashfs -all-root -noappend` on the same tree, with the same compressor.
//!
//! For each tree it bakes once untimed, unpacks that image with `unsquashfs` so mksquashfs
//! gets exactly the same files (release file included), then runs both tools `--reps`
//! times, interleaved and alternating which goes first, and prints the machine, the tool
//! versions, median and best wall times, image sizes and the two ratios (nnedge /
//! mksquashfs; the goal is time <= 1.0x, size <= 1.02x).
//!
//! Trees: each `--tree DIR` is baked under `usr/lib/<dir name>/` (default
//! `/usr/lib/llvm-19/bin`, about WasmEdge's size); `--preset-binary`, `--preset-sysroot`
//! and `--preset-guests` add the nnedge preset.
//!
//! Run: `cargo run --release -p nnedge-benches --bin sysext-bake -- [--reps 5]`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nnedge_sysext::{bake_image, Architecture, BakeSpec, Compression, NnedgePreset, Tree};

/// A tree to bake, with a label for the report.
struct Case {
    label: String,
    tree: Tree,
    spec: BakeSpec,
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse()?;
    print_machine(options.compression)?;

    let work = tempfile::tempdir()?;
    for case in options.cases()? {
        measure(&case, options.reps, work.path())?;
    }
    Ok(())
}

/// Command-line options, parsed by hand to keep the bench small.
struct Options {
    trees: Vec<PathBuf>,
    preset: Option<NnedgePreset>,
    reps: usize,
    compression: Compression,
}

impl Options {
    fn parse() -> anyhow::Result<Self> {
        let mut trees = Vec::new();
        let (mut binary, mut sysroot, mut guests) = (None, None, None);
        let (mut reps, mut compression) = (3, Compression::Gzip);
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--tree" => trees.push(PathBuf::from(value()?)),
                "--reps" => reps = value()?.parse()?,
                "--compression" => compression = value()?.parse()?,
                "--preset-binary" => binary = Some(PathBuf::from(value()?)),
                "--preset-sysroot" => sysroot = Some(PathBuf::from(value()?)),
                "--preset-guests" => guests = Some(PathBuf::from(value()?)),
                _ => bail!("unknown argument `{arg}` (see the header of sysext-bake.rs)"),
            }
        }
        if trees.is_empty() && binary.is_none() {
            trees.push(PathBuf::from("/usr/lib/llvm-19/bin"));
        }
        let preset = match (binary, sysroot, guests) {
            (Some(binary), Some(sysroot), Some(guests)) => Some(NnedgePreset {
                binary,
                sysroot,
                guests,
                enable_service: false,
                architecture: Architecture::X86_64,
            }),
            (None, None, None) => None,
            _ => bail!("the preset needs --preset-binary, --preset-sysroot and --preset-guests"),
        };
        Ok(Self {
            trees,
            preset,
            reps: reps.max(1),
            compression,
        })
    }

    fn cases(&self) -> anyhow::Result<Vec<Case>> {
        let mut cases = Vec::new();
        for dir in &self.trees {
            let name = dir
                .file_name()
                .context("tree has no name")?
                .to_string_lossy();
            let mut tree = Tree::new();
            tree.add_dir(Path::new("usr/lib").join(&*name), dir)?;
            let mut spec = BakeSpec::new("bench", "1", Architecture::X86_64);
            spec.compression = self.compression;
            cases.push(Case {
                label: dir.display().to_string(),
                tree,
                spec,
            });
        }
        if let Some(preset) = &self.preset {
            let mut spec = preset.spec("1");
            spec.compression = self.compression;
            cases.push(Case {
                label: "nnedge preset".into(),
                tree: preset.tree()?,
                spec,
            });
        }
        Ok(cases)
    }
}

/// Bakes `case` with both tools, interleaved, and prints the comparison.
fn measure(case: &Case, reps: usize, work: &Path) -> anyhow::Result<()> {
    // One untimed bake, unpacked, is mksquashfs's input: the very same files.
    let warm = bake_image(&case.tree, &case.spec, &work.join("warm"))?;
    let same_tree = work.join("same-tree");
    let _ = std::fs::remove_dir_all(&same_tree);
    run(Command::new("unsquashfs")
        .args(["-q", "-n", "-d"])
        .arg(&same_tree)
        .arg(&warm.image))?;
    let reference = work.join("mksquashfs.raw");

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        for turn in 0..2 {
            if (rep + turn) % 2 == 0 {
                let start = Instant::now();
                bake_image(&case.tree, &case.spec, &work.join("ours"))?;
                ours.push(start.elapsed());
            } else {
                let start = Instant::now();
                let comp = case.spec.compression.name();
                run(Command::new("mksquashfs")
                    .arg(&same_tree)
                    .arg(&reference)
                    .args([
                        "-all-root",
                        "-noappend",
                        "-quiet",
                        "-no-progress",
                        "-comp",
                        comp,
                    ]))?;
                theirs.push(start.elapsed());
            }
        }
    }

    let our_size = std::fs::metadata(&warm.image)?.len();
    let their_size = std::fs::metadata(&reference)?.len();
    let (files, bytes) = tree_size(&same_tree)?;
    println!(
        "\ntree: {} ({files} files, {:.1} MiB)",
        case.label,
        mib(bytes)
    );
    for (tool, times, size) in [
        ("nnedge-sysext", &ours, our_size),
        ("mksquashfs", &theirs, their_size),
    ] {
        let (median, best) = (
            median(times),
            times.iter().min().copied().unwrap_or_default(),
        );
        println!(
            "  {tool:<14} median {:>7.3} s  best {:>7.3} s  image {:>8.2} MiB ({size} bytes)",
            median.as_secs_f64(),
            best.as_secs_f64(),
            mib(size)
        );
    }
    let time_ratio = median(&ours).as_secs_f64() / median(&theirs).as_secs_f64();
    let size_ratio = our_size as f64 / their_size as f64;
    println!(
        "  ratio (nnedge/mksquashfs): time {time_ratio:.2}x  size {size_ratio:.4}x  ({reps} reps)"
    );
    Ok(())
}

/// Prints the machine and tool versions the numbers belong to.
fn print_machine(compression: Compression) -> anyhow::Result<()> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .unwrap_or("model name: ?");
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mksquashfs = Command::new("mksquashfs").arg("-version").output()?;
    let mksquashfs = String::from_utf8_lossy(&mksquashfs.stdout);
    println!(
        "machine: {} | {cores} cores",
        model.split(':').nth(1).unwrap_or("?").trim()
    );
    println!("mksquashfs: {}", mksquashfs.lines().next().unwrap_or("?"));
    println!("backhand: {} (single-threaded writer)", backhand_version());
    println!("compressor: {compression} (default settings of each tool)");
    Ok(())
}

/// backhand's version as locked in the workspace's Cargo.lock.
fn backhand_version() -> String {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"backhand\"" {
            let version = lines.next().unwrap_or_default();
            return version
                .trim_start_matches("version = ")
                .trim_matches('"')
                .to_owned();
        }
    }
    "unknown".to_owned()
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("failed to start {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Regular files and their total size under `dir`.
fn tree_size(dir: &Path) -> anyhow::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = std::fs::symlink_metadata(entry.path())?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    Ok((files, bytes))
}
