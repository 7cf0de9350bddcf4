//! Links `nnedge` (and its tests) to the private WasmEdge runtime sysroot.
//!
//! When `NNEDGE_RUNTIME_LIB_DIR` names the sysroot's library directory (`cargo xtask` sets it),
//! the binary gets that directory's dynamic loader as its interpreter and an RPATH to it, so
//! it runs straight from a shell and never mixes the host's glibc or libstdc++ with the
//! sysroot's. Without the variable, nothing is added and the system's loader is used (for a
//! WasmEdge installed system-wide through `WASMEDGE_DIR`).
//!
//! The portable flavour (feature `portable`) also gets `$ORIGIN` in its RPATH: its llama.cpp
//! libraries are found in the binary's own folder, wherever that is.

fn main() {
    println!("cargo:rerun-if-env-changed=NNEDGE_RUNTIME_LIB_DIR");
    if let Some(lib) = std::env::var_os("NNEDGE_RUNTIME_LIB_DIR") {
        link_runtime_sysroot(&lib.to_string_lossy());
    }
    // The portable flavour's libllama/libggml sit beside the binary. Listed after the
    // sysroot, so the C library never comes from there; DT_RPATH, so that it also serves
    // libllama's own dependencies.
    if std::env::var_os("CARGO_FEATURE_PORTABLE").is_some() {
        println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags");
        println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN");
    }
}

/// Links to the runtime sysroot whose library directory is `lib`.
fn link_runtime_sysroot(lib: &str) {
    // Remembered so that `nnedge sysext bake --preset nnedge` can bundle this very sysroot.
    println!("cargo:rustc-env=NNEDGE_BUILD_RUNTIME_LIB_DIR={lib}");
    // DT_RPATH (not RUNPATH) also covers the libraries' own dependencies, e.g. libLLVM's.
    for arg in [
        format!("-Wl,--dynamic-linker={lib}/ld-linux-x86-64.so.2"),
        "-Wl,--disable-new-dtags".to_owned(),
        format!("-Wl,-rpath,{lib}"),
        format!("-Wl,-rpath-link,{lib}"),
    ] {
        println!("cargo:rustc-link-arg={arg}");
    }
}
