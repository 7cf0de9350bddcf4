//! The raw `wasi_ephemeral_nn` imports, declared here rather than taken from a binding crate
//! so the probe can pass any i32 at all, and the few layouts the host reads from memory.
//!
//! Every parameter is an i32 (handles, lengths, and guest addresses); every result is an errno.

/// Graph encoding GGML.
pub const ENCODING_GGML: i32 = 6;
/// Execution target CPU.
pub const TARGET_CPU: i32 = 0;
/// Tensor type U8.
pub const TENSOR_U8: u32 = 3;
/// Tensor type F32.
pub const TENSOR_F32: u32 = 1;

#[link(wasm_import_module = "wasi_ephemeral_nn")]
extern "C" {
    pub fn load(builders: i32, builders_len: i32, encoding: i32, target: i32, out: i32) -> i32;
    pub fn load_by_name(name: i32, name_len: i32, out_graph: i32) -> i32;
    pub fn load_by_name_with_config(
        name: i32,
        name_len: i32,
        config: i32,
        config_len: i32,
        out_graph: i32,
    ) -> i32;
    pub fn init_execution_context(graph: i32, out_ctx: i32) -> i32;
    pub fn set_input(ctx: i32, index: i32, tensor: i32) -> i32;
    pub fn compute(ctx: i32) -> i32;
    pub fn get_output(ctx: i32, index: i32, out: i32, out_max: i32, out_written: i32) -> i32;
    pub fn compute_single(ctx: i32) -> i32;
    pub fn get_output_single(ctx: i32, index: i32, out: i32, out_max: i32, written: i32) -> i32;
    pub fn fini_single(ctx: i32) -> i32;
    pub fn unload(graph: i32) -> i32;
    pub fn finalize_execution_context(ctx: i32) -> i32;
}

/// A tensor descriptor as the host reads it: five little-endian u32.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Tensor {
    /// Address of the dimensions (u32 each).
    pub dims: u32,
    /// Number of dimensions.
    pub dims_len: u32,
    /// Element type ([`TENSOR_U8`], ...).
    pub kind: u32,
    /// Address of the data.
    pub data: u32,
    /// Length of the data in bytes.
    pub data_len: u32,
}

/// A `{ptr, len}` pair of the `load` builder array.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Builder {
    /// Address of the bytes.
    pub ptr: u32,
    /// Their length.
    pub len: u32,
}

/// The guest address of `value`, for a parameter the host only reads.
pub fn addr<T: ?Sized>(value: &T) -> i32 {
    (value as *const T).cast::<u8>() as usize as i32
}

/// The guest address of `value`, for a parameter the host writes.
pub fn addr_mut<T: ?Sized>(value: &mut T) -> i32 {
    (value as *mut T).cast::<u8>() as usize as i32
}

/// The first address past linear memory 0 (saturated at `u32::MAX`).
pub fn memory_end() -> u32 {
    let bytes = core::arch::wasm32::memory_size(0) as u64 * 65536;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}
