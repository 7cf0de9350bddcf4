//! The `wasi_ephemeral_nn` ABI as WasmEdge defines it: error codes, tensor types, the list of
//! imported functions and the layout of the structures guests pass by pointer.

use crate::memory::{GuestMemory, OutOfBounds};

/// The module name guests import the functions from.
pub const MODULE_NAME: &str = "wasi_ephemeral_nn";

/// Every function of the module with its number of `i32` parameters; each returns one `i32`
/// (an [`NnErrno`]). The host registers these by name and forwards each call to the
/// [`crate::WasiNn`] method of the same name.
pub const IMPORTS: &[(&str, usize)] = &[
    ("load", 5),
    ("load_by_name", 3),
    ("load_by_name_with_config", 5),
    ("init_execution_context", 2),
    ("set_input", 3),
    ("compute", 1),
    ("get_output", 5),
    ("compute_single", 1),
    ("get_output_single", 5),
    ("fini_single", 1),
    ("unload", 1),
    ("finalize_execution_context", 1),
];

/// The error codes of the ABI, as WasmEdge numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum NnErrno {
    /// The call succeeded.
    Success = 0,
    /// A parameter, handle, pointer or metadata value is invalid.
    InvalidArgument = 1,
    /// The graph encoding is not supported (also: metadata that is not JSON, as upstream).
    InvalidEncoding = 2,
    /// The calling instance has no memory.
    MissingMemory = 3,
    /// The resource is in use.
    Busy = 4,
    /// llama.cpp failed while loading or running the model.
    RuntimeError = 5,
    /// The operation is not supported by this backend.
    UnsupportedOperation = 6,
    /// The guest's output buffer is too small for the output.
    TooLarge = 7,
    /// No model is registered under the requested name.
    NotFound = 8,
    /// Generation ended (end-of-sequence token, reverse prompt or `n-predict`).
    EndOfSequence = 100,
    /// The context window is full.
    ContextFull = 101,
    /// The prompt does not fit in the context window.
    PromptTooLong = 102,
    /// The model file does not exist.
    ModelNotFound = 103,
}

impl NnErrno {
    /// The code as the guest receives it.
    pub fn code(self) -> u32 {
        self as u32
    }
}

impl From<OutOfBounds> for NnErrno {
    fn from(_: OutOfBounds) -> Self {
        Self::InvalidArgument
    }
}

/// The element type of a tensor passed to `set_input`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorType {
    /// IEEE half precision (0).
    F16,
    /// IEEE single precision (1).
    F32,
    /// IEEE double precision (2).
    F64,
    /// Bytes (3): prompts and metadata use this.
    U8,
    /// 32-bit integers (4).
    I32,
    /// 64-bit integers (5).
    I64,
}

impl TensorType {
    /// The tensor type with ABI number `value`, if the ABI defines one.
    pub fn from_abi(value: u32) -> Option<Self> {
        let all = [
            Self::F16,
            Self::F32,
            Self::F64,
            Self::U8,
            Self::I32,
            Self::I64,
        ];
        all.get(usize::try_from(value).ok()?).copied()
    }
}

/// A tensor as a guest passes it to `set_input`: five `u32` words
/// `{dims_ptr, dims_len, type, data_ptr, data_len}` pointing into guest memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestTensor {
    /// The dimensions (informational for this backend).
    pub dimensions: Vec<u32>,
    /// The raw element type number; see [`TensorType::from_abi`].
    pub tensor_type: u32,
    /// A copy of the tensor bytes.
    pub data: Vec<u8>,
}

impl GuestTensor {
    /// Reads the tensor structure at `ptr` and the arrays it points to.
    pub fn read(memory: &GuestMemory<'_>, ptr: u32) -> Result<Self, OutOfBounds> {
        let words = memory.read_u32s(ptr, 5)?;
        let (dims_ptr, dims_len, tensor_type, data_ptr, data_len) =
            (words[0], words[1], words[2], words[3], words[4]);
        let dimensions = memory.read_u32s(dims_ptr, dims_len)?;
        let data = memory.read(data_ptr, data_len)?.to_vec();
        Ok(Self {
            dimensions,
            tensor_type,
            data,
        })
    }
}

/// Reads the graph-builder array of `load`: `len` pairs of `{ptr, len}` `u32` words, each
/// naming a byte range of guest memory. Returns copies of the ranges.
pub fn read_builders(
    memory: &GuestMemory<'_>,
    ptr: u32,
    len: u32,
) -> Result<Vec<Vec<u8>>, OutOfBounds> {
    let words = memory.read_u32s(ptr, len.saturating_mul(2))?;
    if u64::from(len) * 2 != words.len() as u64 {
        return Err(OutOfBounds {
            offset: ptr,
            len: u64::from(len) * 8,
            size: memory.size(),
        });
    }
    let pairs = words.chunks_exact(2);
    pairs
        .map(|pair| memory.read(pair[0], pair[1]).map(<[u8]>::to_vec))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_values_match_wasmedge() {
        assert_eq!(NnErrno::Success.code(), 0);
        assert_eq!(NnErrno::TooLarge.code(), 7);
        assert_eq!(NnErrno::NotFound.code(), 8);
        assert_eq!(NnErrno::EndOfSequence.code(), 100);
        assert_eq!(NnErrno::ModelNotFound.code(), 103);
    }

    #[test]
    fn reads_a_tensor_and_builders() {
        let mut bytes = vec![0u8; 64];
        let mut memory = GuestMemory::new(&mut bytes);
        memory.write(40, b"hello").unwrap();
        memory.write_u32(32, 1).unwrap();
        for (i, word) in [32u32, 1, 3, 40, 5].iter().enumerate() {
            memory
                .write_u32(u32::try_from(i * 4).unwrap(), *word)
                .unwrap();
        }
        let tensor = GuestTensor::read(&memory, 0).unwrap();
        assert_eq!(tensor.dimensions, vec![1]);
        assert_eq!(
            TensorType::from_abi(tensor.tensor_type),
            Some(TensorType::U8)
        );
        assert_eq!(tensor.data, b"hello");

        let builders = read_builders(&memory, 12, 1).unwrap();
        assert_eq!(builders, vec![b"hello".to_vec()]);
        assert!(read_builders(&memory, 0, u32::MAX).is_err());
    }
}
