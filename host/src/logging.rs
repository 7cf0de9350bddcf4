//! Log output: `tracing` to stderr, filtered by `-v` flags or `RUST_LOG`.
//!
//! stdout is left to data (and to the guest's own output).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `verbose` counts `-v` flags.
///
/// WasmEdge's own log (spdlog) writes to stdout, where it would mix with data and with the
/// guest's output, and WasmEdge 0.14.1 offers no callback to route it; so it is off unless
/// `-v` is given, and then at error level only (which names a trap's instruction).
// TODO(#2): route WasmEdge's log lines into tracing on stderr.
pub fn init(verbose: u8) {
    if verbose == 0 {
        wasmedge_sdk::LogManager::log_off();
    } else {
        wasmedge_sdk::LogManager::log_error_info();
    }
    let default = match verbose {
        0 => "warn,nnedge=info,guest=info",
        1 => "info,nnedge=debug,guest=debug,nnedge_wasi_nn_ggml=debug",
        _ => "debug,nnedge=trace,guest=trace,nnedge_wasi_nn_ggml=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(verbose > 0)
        .init();
}
