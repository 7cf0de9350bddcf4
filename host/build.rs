//! Links `nnedge` (and its tests) to the private WasmEdge runtime sysroot.
//!
//! When `NNEDGE_RUNTIME_LIB_DIR` names the sysroot's library directory (`cargo xtask` sets it),
//! the binary gets that directory's dynamic loader as its interpreter and an RPATH to it, so
//! it runs straight from a shell and never mixes the host's glibc or libstdc++ with the
//! sysroot's. Without the variable, nothing is added and the system's loader is used (for a
//! WasmEdge installed system-wide through `WASMEDGE_DIR`).

fn main() {
    println!("cargo:rerun-if-env-changed=NNEDGE_RUNTIME_LIB_DIR");
    let Some(lib) = std::env::var_os("NNEDGE_RUNTIME_LIB_DIR") else {
        return;
    };
    let lib = lib.to_string_lossy();
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
