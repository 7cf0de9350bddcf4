//! The portable flavour (`cargo xtask build --portable`, collected in `$NNEDGE_CACHE/portable`)
//! against the native build under test: the same greedy text, the CPU module it picks, the
//! baseline x86-64 module alone, a clear error with none, no CPU-specific code outside the
//! modules, and the sysext preset baking it.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nnedge_sysext::{bake_image, Architecture, Compression, NnedgePreset};

use crate::support::{cache_dir, guest, nnedge, prerequisite, shared_model, texts};
use crate::sysext::libraries_loaded_by;

/// stories260K settings: greedy, short, two threads.
const STORIES_ARGS: &[&str] = &[
    "--prompt",
    "Once upon a time",
    "--temp",
    "0",
    "--ctx-size",
    "256",
    "--n-predict",
    "48",
    "--threads",
    "2",
];

/// The collected portable flavour: `bin/nnedge`, `lib/nnedge/`.
fn portable_layout() -> Option<PathBuf> {
    let layout = cache_dir().join("portable");
    prerequisite(layout.join("lib/nnedge/nnedge"), "portable build")?;
    Some(layout)
}

/// `program -v run --nn-preload default:GGML:CPU:stories260K llama-simple.wasm ...`.
fn run_stories(program: &Path, simple: &Path, model: &Path) -> Output {
    let preload = format!("default:GGML:CPU:{}", model.display());
    Command::new(program)
        .args(["-v", "run", "--nn-preload", &preload])
        .arg(simple)
        .args(STORIES_ARGS)
        .env_remove("RUST_LOG")
        .env_remove("NNEDGE_GGML_BACKENDS_DIR")
        .output()
        .expect("failed to start nnedge")
}

/// The variant and module path from the debug line `ggml CPU backend chosen variant=V path=P`.
fn chosen_module(log: &str) -> Option<(String, PathBuf)> {
    let line = log
        .lines()
        .find(|l| l.contains("ggml CPU backend chosen"))?;
    let variant = line.split("variant=").nth(1)?.split_whitespace().next()?;
    let path = line.split("path=").nth(1)?.trim();
    Some((variant.to_owned(), PathBuf::from(path)))
}

/// `nnedge --version` of `program`.
fn version(program: &Path) -> String {
    let output = Command::new(program)
        .arg("--version")
        .env_remove("NNEDGE_GGML_BACKENDS_DIR")
        .output()
        .expect("failed to start nnedge");
    texts(&output).0.trim().to_owned()
}

/// A copy of the portable layout in `dir` (symlinks kept) holding only the CPU modules
/// `keep`.
fn copy_with_modules(layout: &Path, dir: &Path, keep: &[&str]) -> PathBuf {
    let lib = dir.join("lib/nnedge");
    fs_err::create_dir_all(&lib).unwrap();
    fs_err::create_dir_all(dir.join("bin")).unwrap();
    symlink("../lib/nnedge/nnedge", dir.join("bin/nnedge")).unwrap();
    for entry in fs_err::read_dir(layout.join("lib/nnedge")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("libggml-cpu-") && !keep.iter().any(|k| name == *k) {
            continue;
        }
        match fs_err::read_link(&path) {
            Ok(target) => symlink(target, lib.join(&name)).unwrap(),
            Err(_) => drop(fs_err::copy(&path, lib.join(&name)).unwrap()),
        }
    }
    dir.join("bin/nnedge")
}

fn cpu_has(flag: &str) -> bool {
    let cpuinfo = fs_err::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = cpuinfo.lines().find(|l| l.starts_with("flags"));
    flags.is_some_and(|l| l.split_whitespace().any(|f| f == flag))
}

/// The portable build generates exactly the native build's greedy text, with the module ggml
/// picked for this CPU named in the log and in `--version`.
#[test]
fn portable_build_gives_the_native_greedy_text_with_the_best_cpu_module() {
    let (Some(layout), Some(simple), Some(model)) = (
        portable_layout(),
        guest("llama-simple"),
        shared_model("stories260K.gguf"),
    ) else {
        return;
    };
    let native = run_stories(Path::new(env!("CARGO_BIN_EXE_nnedge")), &simple, &model);
    let (native_text, err) = texts(&native);
    assert!(native.status.success(), "{err}");
    assert!(native_text.len() > 40, "too little text: {native_text:?}");

    let portable = run_stories(&layout.join("bin/nnedge"), &simple, &model);
    let (portable_text, log) = texts(&portable);
    assert!(portable.status.success(), "{log}");
    assert_eq!(
        portable_text, native_text,
        "the portable build's text differs"
    );

    let (variant, path) = chosen_module(&log).unwrap_or_else(|| panic!("no variant:\n{log}"));
    let lib = layout.join("lib/nnedge").canonicalize().unwrap();
    assert_eq!(path, lib.join(format!("libggml-cpu-{variant}.so")));
    if cpu_has("avx2") {
        let baseline = ["x64", "sse42", "sandybridge", "ivybridge"];
        assert!(
            !baseline.contains(&variant.as_str()),
            "{variant} on an AVX2 CPU"
        );
    }
    let portable = version(&layout.join("bin/nnedge"));
    let expected = format!("(portable, ggml CPU backend {variant})");
    assert!(portable.ends_with(&expected), "{portable}");
    let native = version(Path::new(env!("CARGO_BIN_EXE_nnedge")));
    assert!(native.ends_with("(ggml CPU backend built in)"), "{native}");
}

/// "Runs on any x86-64 CPU": with every module but the baseline x86-64 one removed from a
/// copy of the layout, the copy still runs, on that module, and generates the same greedy
/// text as the native build (stories260K's margins are wide enough for SSE2 kernels).
#[test]
fn portable_build_runs_on_the_baseline_x64_module_alone() {
    let (Some(layout), Some(simple), Some(model)) = (
        portable_layout(),
        guest("llama-simple"),
        shared_model("stories260K.gguf"),
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let copy = copy_with_modules(&layout, work.path(), &["libggml-cpu-x64.so"]);

    let output = run_stories(&copy, &simple, &model);
    let (text, log) = texts(&output);
    assert!(output.status.success(), "{log}");
    let native = run_stories(Path::new(env!("CARGO_BIN_EXE_nnedge")), &simple, &model);
    assert!(text.len() > 40, "too little text: {text:?}");
    assert_eq!(
        text,
        texts(&native).0,
        "the x64 module's text differs from the native build's"
    );
    let (variant, path) = chosen_module(&log).unwrap_or_else(|| panic!("no variant:\n{log}"));
    assert_eq!(variant, "x64");
    assert!(
        path.starts_with(work.path().canonicalize().unwrap()),
        "{path:?}"
    );
    assert!(version(&copy).ends_with("(portable, ggml CPU backend x64)"));
}

/// Without any CPU module the portable build stops at start-up with one line saying where
/// the modules should be, instead of failing at the first model load.
#[test]
fn portable_build_without_cpu_modules_fails_with_one_line() {
    let Some(layout) = portable_layout() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let copy = copy_with_modules(&layout, work.path(), &[]);
    let output = Command::new(&copy)
        .args(["run", "hello.wasm"])
        .env_remove("NNEDGE_GGML_BACKENDS_DIR")
        .output()
        .unwrap();
    let (out, err) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let lib = work.path().join("lib/nnedge").canonicalize().unwrap();
    assert!(
        err.starts_with(&format!(
            "error: no ggml CPU backend could be loaded from `{}`",
            lib.display()
        )),
        "{err}"
    );
}

/// Whether `tool` runs; a skip message otherwise (a failure under CI).
fn tool(tool: &str, package: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        let message = format!("`{tool}` is missing (Debian package {package})");
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("skipped: {message}");
    }
    found
}

/// The AVX (VEX/EVEX-encoded) instructions of an ELF file, per function, from objdump:
/// every AVX mnemonic starts with `v` (`verr`/`verw` are older and not vector code).
fn avx_by_function(elf: &Path) -> Vec<(String, String)> {
    let output = Command::new("objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(elf)
        .output()
        .expect("run objdump");
    assert!(output.status.success(), "objdump {}", elf.display());
    let mut function = String::new();
    let mut found = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some(name) = line.strip_suffix(">:").and_then(|l| l.split_once(" <")) {
            function = name.1.to_owned();
        } else if let Some((_, instruction)) = line.split_once('\t') {
            let avx = instruction.starts_with('v') && !instruction.starts_with("ver");
            if avx || instruction.contains("%ymm") || instruction.contains("%zmm") {
                found.push((function.clone(), instruction.to_owned()));
            }
        }
    }
    found
}

/// Regression guard: the portable flavour must not pick up `target-cpu=native` (or any AVX
/// baseline) outside ggml's per-CPU modules, or it dies with SIGILL on older CPUs. Checked
/// on the machine code: no AVX at all in libllama, libggml*, llama-common and the x64
/// module; in nnedge itself only in the functions that its dependencies select at run time
/// after checking the CPU, which name their instruction set (memchr's `find_raw_avx2`,
/// ring's `aesni_gcm_encrypt`, ...). A native build has AVX in thousands of others.
#[test]
fn regression_portable_flavour_has_no_native_code_outside_the_cpu_modules() {
    let Some(layout) = portable_layout() else {
        return;
    };
    if !tool("objdump", "binutils") {
        return;
    }
    let lib = layout.join("lib/nnedge");
    let baseline = [
        "libggml-base.so.0",
        "libggml.so.0",
        "libllama.so.0",
        "libllama-common.so.0",
        "libggml-cpu-x64.so",
    ];
    for name in baseline {
        let found = avx_by_function(&lib.join(name));
        assert!(
            found.is_empty(),
            "AVX code in {name}: {:?}",
            &found[..5.min(found.len())]
        );
    }

    let dispatched = ["avx", "aesni", "vaes", "vpclmulqdq"];
    let mut stray: Vec<String> = avx_by_function(&lib.join("nnedge"))
        .into_iter()
        .map(|(function, _)| function)
        .filter(|f| !dispatched.iter().any(|d| f.to_lowercase().contains(d)))
        .collect();
    stray.dedup();
    assert!(
        stray.is_empty(),
        "AVX code in nnedge outside CPU-dispatched functions: {stray:?}"
    );

    // The scan does see AVX where it belongs.
    let haswell = avx_by_function(&lib.join("libggml-cpu-haswell.so"));
    assert!(
        haswell.iter().any(|(_, i)| i.contains("%ymm")),
        "no AVX2 in the haswell module"
    );
}

/// The sysext preset bakes the portable build with its libraries and modules; unpacked
/// elsewhere, it runs llama-simple on the modules in the image, generates the native build's
/// text, and loads no library from outside the image.
#[test]
fn baked_portable_preset_runs_llama_simple_from_an_unpacked_root() {
    let (Some(layout), Some(simple), Some(model)) = (
        portable_layout(),
        guest("llama-simple"),
        shared_model("stories260K.gguf"),
    ) else {
        return;
    };
    if !tool("unsquashfs", "squashfs-tools") || !tool("patchelf", "patchelf") {
        return;
    }
    let Some(sysroot) = prerequisite(
        cache_dir().join("runtime/wasmedge-0.14.1/sysroot"),
        "runtime sysroot",
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let preset = NnedgePreset {
        binary: layout.join("bin/nnedge"),
        sysroot,
        guests: simple.parent().unwrap().to_owned(),
        enable_service: false,
        architecture: Architecture::X86_64,
    };
    let mut spec = preset.spec("0.0.1");
    spec.compression = Compression::Lz4;
    let image = bake_image(&preset.tree().unwrap(), &spec, work.path()).unwrap();
    let root = work.path().join("root");
    let unpacked = Command::new("unsquashfs")
        .args(["-q", "-n", "-d"])
        .args([&root, &image.image])
        .output()
        .unwrap();
    assert!(unpacked.status.success(), "{:?}", texts(&unpacked));
    let root = root.canonicalize().unwrap();

    let launcher = root.join("usr/bin/nnedge");
    let native = nnedge()
        .args([
            "run",
            "--nn-preload",
            &format!("default:GGML:CPU:{}", model.display()),
        ])
        .arg(&simple)
        .args(STORIES_ARGS)
        .output()
        .unwrap();
    let output = Command::new(&launcher)
        .arg("-v")
        .args([
            "run",
            "--nn-preload",
            &format!("default:GGML:CPU:{}", model.display()),
        ])
        .arg(root.join("usr/lib/nnedge/guests/llama-simple.wasm"))
        .args(STORIES_ARGS)
        .env("LD_DEBUG", "libs")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("NNEDGE_GGML_BACKENDS_DIR")
        .env_remove("NNEDGE_GUEST_DIR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let (text, log) = texts(&output);
    assert!(output.status.success(), "{log}");
    assert_eq!(
        text,
        texts(&native).0,
        "the image's text differs from the native build's"
    );

    let (_, module) = chosen_module(&log).unwrap_or_else(|| panic!("no variant:\n{log}"));
    assert!(
        module.starts_with(root.join("usr/lib/nnedge")),
        "{module:?}"
    );
    let loaded = libraries_loaded_by(launcher.to_str().unwrap(), &log);
    assert!(
        loaded.iter().any(|l| l.ends_with("libllama.so.0")),
        "{loaded:?}"
    );
    let foreign: Vec<&&str> = loaded
        .iter()
        .filter(|l| !Path::new(l).starts_with(&root))
        .collect();
    assert!(foreign.is_empty(), "loaded outside the image: {foreign:?}");
}
