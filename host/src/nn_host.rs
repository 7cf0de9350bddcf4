//! The `wasi_ephemeral_nn` host module: WasmEdge host functions that forward every call to
//! [`nnedge_wasi_nn_ggml::WasiNn`].
//!
//! Each function reads its `i32` parameters, lends the guest's memory as a slice and returns
//! the backend's error code. None of them ever fails the call itself, so a bad argument from
//! the guest becomes an error code, never a trap.

use nnedge_wasi_nn_ggml::{NnErrno, WasiNn, MODULE_NAME};
use wasmedge_sdk::error::CoreError;
use wasmedge_sdk::{CallingFrame, ImportObject, ImportObjectBuilder, Instance, WasmValue};

use crate::guest_memory::with_memory;

type HostResult = Result<Vec<WasmValue>, CoreError>;

/// The `i32` parameters of a call, read as the unsigned values the ABI means.
fn params<const N: usize>(args: &[WasmValue]) -> [u32; N] {
    let mut out = [0u32; N];
    for (slot, value) in out.iter_mut().zip(args) {
        *slot = value.to_i32() as u32;
    }
    out
}

fn errno(code: u32) -> HostResult {
    Ok(vec![WasmValue::from_i32(code as i32)])
}

/// Defines a host function for a backend method that needs guest memory.
macro_rules! with_memory_fn {
    ($name:ident, $n:literal, |$nn:ident, $mem:ident, $p:ident| $call:expr) => {
        fn $name(
            $nn: &mut WasiNn,
            _inst: &mut Instance,
            frame: &mut CallingFrame,
            args: Vec<WasmValue>,
        ) -> HostResult {
            let $p = params::<$n>(&args);
            let code = with_memory(frame, |$mem| $call);
            errno(code.unwrap_or(NnErrno::MissingMemory as u32))
        }
    };
}

/// Defines a host function for a backend method that takes one handle and no memory.
macro_rules! handle_fn {
    ($name:ident, $method:ident) => {
        fn $name(
            nn: &mut WasiNn,
            _inst: &mut Instance,
            _frame: &mut CallingFrame,
            args: Vec<WasmValue>,
        ) -> HostResult {
            let [handle] = params::<1>(&args);
            errno(nn.$method(handle))
        }
    };
}

with_memory_fn!(load, 5, |nn, m, p| nn.load(m, p[0], p[1], p[2], p[3], p[4]));
with_memory_fn!(load_by_name, 3, |nn, m, p| nn
    .load_by_name(m, p[0], p[1], p[2]));
with_memory_fn!(load_by_name_with_config, 5, |nn, m, p| {
    nn.load_by_name_with_config(m, p[0], p[1], p[2], p[3], p[4])
});
with_memory_fn!(init_execution_context, 2, |nn, m, p| {
    nn.init_execution_context(m, p[0], p[1])
});
with_memory_fn!(set_input, 3, |nn, m, p| nn.set_input(m, p[0], p[1], p[2]));
with_memory_fn!(get_output, 5, |nn, m, p| nn
    .get_output(m, p[0], p[1], p[2], p[3], p[4]));
with_memory_fn!(get_output_single, 5, |nn, m, p| {
    nn.get_output_single(m, p[0], p[1], p[2], p[3], p[4])
});
handle_fn!(compute, compute);
handle_fn!(compute_single, compute_single);
handle_fn!(fini_single, fini_single);
handle_fn!(unload, unload);
handle_fn!(finalize_execution_context, finalize_execution_context);

/// Builds the `wasi_ephemeral_nn` import object around a backend.
pub fn import_object(nn: WasiNn) -> anyhow::Result<ImportObject<WasiNn>> {
    let mut builder = ImportObjectBuilder::new(MODULE_NAME, nn)?;
    type Five = (i32, i32, i32, i32, i32);
    builder
        .with_func::<Five, i32>("load", load)?
        .with_func::<(i32, i32, i32), i32>("load_by_name", load_by_name)?
        .with_func::<Five, i32>("load_by_name_with_config", load_by_name_with_config)?
        .with_func::<(i32, i32), i32>("init_execution_context", init_execution_context)?
        .with_func::<(i32, i32, i32), i32>("set_input", set_input)?
        .with_func::<i32, i32>("compute", compute)?
        .with_func::<Five, i32>("get_output", get_output)?
        .with_func::<i32, i32>("compute_single", compute_single)?
        .with_func::<Five, i32>("get_output_single", get_output_single)?
        .with_func::<i32, i32>("fini_single", fini_single)?
        .with_func::<i32, i32>("unload", unload)?
        .with_func::<i32, i32>("finalize_execution_context", finalize_execution_context)?;
    Ok(builder.build())
}
