//! The process-wide llama.cpp backend: initialised once, on first use, with llama.cpp's and
//! ggml's own log lines routed into `tracing` (target `llama-cpp-2`).

use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::{send_logs_to_tracing, LogOptions};

/// The llama.cpp version this crate is built on: the `llama-cpp-sys-2` release that vendors it.
/// The vendored sources carry no git metadata, so llama.cpp's own build number is unknown.
// TODO(#3): report llama.cpp's upstream build number once the sys crate exposes it.
pub const LLAMA_COMMIT: &str = "llama-cpp-sys-2 0.1.161";

/// llama.cpp's build number as reported in output index 1 (0: unknown, see [`LLAMA_COMMIT`]).
pub const LLAMA_BUILD_NUMBER: u64 = 0;

static BACKEND: OnceLock<Option<LlamaBackend>> = OnceLock::new();

/// The llama.cpp backend, initialised on the first call.
///
/// Returns `None` only if another library in the process initialised llama.cpp through
/// llama-cpp-2 first, in which case this crate cannot obtain its handle.
pub fn backend() -> Option<&'static LlamaBackend> {
    BACKEND
        .get_or_init(|| {
            send_logs_to_tracing(LogOptions::default());
            #[cfg(feature = "dynamic-backends")]
            load_cpu_variants();
            match LlamaBackend::init() {
                Ok(backend) => {
                    tracing::debug!(system = %system_info(), "llama.cpp backend initialised");
                    Some(backend)
                }
                Err(error) => {
                    tracing::error!(%error, "llama.cpp backend could not be initialised");
                    None
                }
            }
        })
        .as_ref()
}

/// The environment variable naming the directory of ggml's CPU-variant modules
/// (`libggml-cpu-haswell.so`, ...) in builds with the `dynamic-backends` feature. Unset, the
/// directory the build installed them to is used.
pub const BACKENDS_DIR_ENV: &str = "NNEDGE_GGML_BACKENDS_DIR";

/// Loads ggml's CPU-variant modules; ggml scores each against the running CPU and keeps the
/// best. Must run before the backend is initialised.
#[cfg(feature = "dynamic-backends")]
fn load_cpu_variants() {
    match std::env::var_os(BACKENDS_DIR_ENV) {
        Some(dir) => {
            let path = std::path::Path::new(&dir);
            // llama-cpp-2 panics on paths that are not UTF-8 or contain NUL: check first.
            if path.to_str().is_some_and(|p| !p.contains('\0')) {
                tracing::debug!(dir = %path.display(), "loading ggml CPU variants");
                llama_cpp_2::llama_backend::load_backends_from_path(path);
            } else {
                tracing::warn!(dir = %path.display(), "{BACKENDS_DIR_ENV} is not a usable path");
            }
        }
        None => llama_cpp_2::llama_backend::load_backends(),
    }
}

/// llama.cpp's system line: the CPU features its kernels were built for and found at run time
/// (`AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | ...`).
pub fn system_info() -> String {
    // SAFETY: llama_print_system_info takes no arguments and returns a pointer to a static,
    // NUL-terminated buffer owned by llama.cpp, valid until the next call; we copy it at once.
    let raw = unsafe { llama_cpp_sys_2::llama_print_system_info() };
    if raw.is_null() {
        return String::new();
    }
    // SAFETY: `raw` is non-null and NUL-terminated (see above).
    unsafe { std::ffi::CStr::from_ptr(raw) }
        .to_string_lossy()
        .into_owned()
}
