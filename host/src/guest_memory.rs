//! The one place where host functions touch a guest's linear memory.
//!
//! WasmEdge hands a host function a calling frame; its memory 0 is the guest's linear memory.
//! This module turns it into a byte slice, so everything else (the WASI-NN ABI, logging) does
//! plain bounds-checked slice indexing and never sees a raw pointer.

use wasmedge_sdk::CallingFrame;

/// Bytes in one WebAssembly page.
const PAGE_SIZE: u64 = 65_536;

/// Runs `f` with the calling instance's memory 0 as a mutable byte slice, or returns `None`
/// when the instance exports no memory.
///
/// A 4 GiB memory is one byte larger than a `u32` length can say; its last byte is left out
/// of the slice (no guest of ours comes near that size).
pub fn with_memory<R>(frame: &mut CallingFrame, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
    let mut memory = frame.memory_mut(0)?;
    let bytes = (u64::from(memory.size()) * PAGE_SIZE).min(u64::from(u32::MAX)) as u32;
    if bytes == 0 {
        return Some(f(&mut []));
    }
    // SAFETY: WasmEdge checked that `0..bytes` lies inside the memory instance (it returns an
    // error otherwise). The guest is suspended while its host function runs and nothing else
    // holds the memory, so this is the only reference to these bytes until `f` returns; the
    // memory cannot grow (and move) during `f`, since only the guest can grow it.
    let slice = unsafe {
        let ptr = memory.data_pointer_mut(0, bytes).ok()?;
        std::slice::from_raw_parts_mut(ptr, bytes as usize)
    };
    Some(f(slice))
}
