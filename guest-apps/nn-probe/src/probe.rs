//! Runs the cases against the host's `wasi_ephemeral_nn` imports.
//!
//! The cases share one graph (the model `--model-alias`, loaded with `--config`) and one
//! execution context on it, both created on first use, so the final `normal-inference` shows
//! that the context survived every bad call before it. Each case reports the errno of its call
//! under test ([`Case::about`]); a call that only prepares the case and fails is a
//! [`SetupError`].

use crate::abi::{self, Builder, Tensor};
use crate::cases::Case;

/// The prompt of every inference the probe runs.
const PROMPT: &str = "Once upon a time";

/// A handle value the host never hands out in a short run.
const UNKNOWN_HANDLE: i32 = 0x7fff_0000;

/// Bound on `compute_single` calls in `stream-to-end`, in case a host never ends a stream.
const MAX_STREAM_STEPS: usize = 4096;

/// A call that prepares a case failed, so the case did not run.
#[derive(Debug)]
pub struct SetupError {
    /// The call that failed.
    pub call: &'static str,
    /// Its errno.
    pub errno: i32,
}

/// Turns an errno from a preparing call into a [`SetupError`].
fn setup(call: &'static str, errno: i32) -> Result<(), SetupError> {
    match errno {
        0 => Ok(()),
        errno => Err(SetupError { call, errno }),
    }
}

/// The probe's shared graph and context.
#[derive(Debug)]
pub struct Probe {
    alias: String,
    config: String,
    graph: Option<i32>,
    context: Option<i32>,
    /// True while the context holds the output of a `compute` of [`PROMPT`].
    computed: bool,
}

impl Probe {
    /// A probe for the model `alias`, loaded with the metadata JSON `config`.
    pub fn new(alias: String, config: String) -> Self {
        Self {
            alias,
            config,
            graph: None,
            context: None,
            computed: false,
        }
    }

    /// Runs one case and returns the errno it reports.
    pub fn run(&mut self, case: Case) -> Result<i32, SetupError> {
        match case {
            Case::UnknownAlias => Ok(load_by_name(b"no-such-model-alias").0),
            Case::InvalidJsonConfig => Ok(self.load_with_config(b"{\"ctx-size\": ").0),
            Case::WrongConfigTypes => Ok(self.load_with_config(br#"{"ctx-size": "large"}"#).0),
            Case::NonGgufModel => Ok(load_bytes(
                b"this is not a GGUF model\n",
                abi::ENCODING_GGML,
            )),
            Case::TruncatedGguf => Ok(load_bytes(&truncated_gguf(), abi::ENCODING_GGML)),
            Case::InvalidEncoding => Ok(load_bytes(b"GGUF", 99)),
            Case::OobNamePointer => Ok(raw_load_by_name(abi::memory_end().wrapping_sub(4), 16)),
            Case::NegativePointer => Ok(raw_load_by_name(-8i32 as u32, 16)),
            Case::OobHandlePointer => self.oob_handle_pointer(),
            Case::HugeNameLength => Ok(raw_load_by_name(abi::addr(b"default") as u32, i32::MAX)),
            Case::HugeBuilderArray => Ok(huge_builder_array()),
            Case::HugeTensorLength => self.huge_tensor_length(),
            Case::OobTensorPointer => self.oob_tensor_pointer(),
            Case::OobOutputBuffer => self.oob_output_buffer(),
            Case::OverlappingPointers => self.overlapping_pointers(),
            Case::UnknownGraph => Ok(init_context(UNKNOWN_HANDLE).0),
            // SAFETY: compute takes a handle only.
            Case::UnknownContext => Ok(unsafe { abi::compute(UNKNOWN_HANDLE) }),
            Case::UseAfterUnload => self.use_after_unload(false),
            Case::DoubleUnload => self.use_after_unload(true),
            Case::UseAfterFinalize => self.use_after_finalize(),
            Case::InvalidUtf8Prompt => self.invalid_utf8_prompt(),
            Case::InvalidJsonMetadata => self.set_metadata(b"{\"n-predict\": 16"),
            Case::WrongMetadataTypes => self.set_metadata(br#"{"n-predict": "many"}"#),
            Case::WrongTensorType => self.wrong_tensor_type(),
            Case::BadInputIndex => self.set_input_at(7, PROMPT.as_bytes(), abi::TENSOR_U8),
            Case::BadOutputIndex => self.bad_output_index(),
            Case::OutMaxTooSmall => self.out_max_too_small(),
            Case::StreamToEnd => self.stream_to_end(),
            Case::NormalInference => self.normal_inference(),
        }
    }

    /// The shared graph, loaded on first use.
    fn graph(&mut self) -> Result<i32, SetupError> {
        if let Some(graph) = self.graph {
            return Ok(graph);
        }
        let (errno, graph) = self.load_with_config(self.config.clone().as_bytes());
        setup("load_by_name_with_config", errno)?;
        self.graph = Some(graph);
        Ok(graph)
    }

    /// The shared context, created on first use.
    fn context(&mut self) -> Result<i32, SetupError> {
        if let Some(context) = self.context {
            return Ok(context);
        }
        let (errno, context) = init_context(self.graph()?);
        setup("init_execution_context", errno)?;
        self.context = Some(context);
        Ok(context)
    }

    fn load_with_config(&self, config: &[u8]) -> (i32, i32) {
        let name = self.alias.as_bytes();
        let mut graph = -1i32;
        // SAFETY: name and config are live slices; graph is a live i32 the host writes.
        let errno = unsafe {
            abi::load_by_name_with_config(
                abi::addr(name),
                name.len() as i32,
                abi::addr(config),
                config.len() as i32,
                abi::addr_mut(&mut graph),
            )
        };
        (errno, graph)
    }

    /// Sets the input at `index` of the shared context to `data` as a 1-D tensor.
    fn set_input_at(&mut self, index: i32, data: &[u8], kind: u32) -> Result<i32, SetupError> {
        let context = self.context()?;
        self.computed = false;
        let dims = [data.len() as u32];
        let tensor = Tensor {
            dims: abi::addr(&dims) as u32,
            dims_len: 1,
            kind,
            data: abi::addr(data) as u32,
            data_len: data.len() as u32,
        };
        // SAFETY: the descriptor, its dimensions and its data are live; the host only reads.
        Ok(unsafe { abi::set_input(context, index, abi::addr(&tensor)) })
    }

    /// Makes sure the shared context holds a computed output of [`PROMPT`].
    fn computed_context(&mut self) -> Result<i32, SetupError> {
        let context = self.context()?;
        if !self.computed {
            setup(
                "set_input",
                self.set_input_at(0, PROMPT.as_bytes(), abi::TENSOR_U8)?,
            )?;
            // SAFETY: compute takes a handle only.
            setup("compute", unsafe { abi::compute(context) })?;
            self.computed = true;
        }
        Ok(context)
    }

    fn oob_handle_pointer(&mut self) -> Result<i32, SetupError> {
        let graph = self.graph()?;
        let out = abi::memory_end().wrapping_sub(2) as i32;
        // SAFETY: the out pointer lies outside linear memory, so no guest data can be hit.
        Ok(unsafe { abi::init_execution_context(graph, out) })
    }

    fn huge_tensor_length(&mut self) -> Result<i32, SetupError> {
        let context = self.context()?;
        self.computed = false;
        let data = PROMPT.as_bytes();
        let dims = [data.len() as u32];
        let tensor = Tensor {
            dims: abi::addr(&dims) as u32,
            dims_len: 1,
            kind: abi::TENSOR_U8,
            data: abi::addr(data) as u32,
            data_len: 0xffff_fff0,
        };
        // SAFETY: the host only reads; it must refuse the length instead of reading past memory.
        Ok(unsafe { abi::set_input(context, 0, abi::addr(&tensor)) })
    }

    fn oob_tensor_pointer(&mut self) -> Result<i32, SetupError> {
        let context = self.context()?;
        self.computed = false;
        let descriptor = abi::memory_end().wrapping_sub(8) as i32;
        // SAFETY: the host only reads the descriptor.
        Ok(unsafe { abi::set_input(context, 0, descriptor) })
    }

    fn oob_output_buffer(&mut self) -> Result<i32, SetupError> {
        let context = self.computed_context()?;
        let out = abi::memory_end().wrapping_sub(2) as i32;
        let mut written = 0u32;
        // SAFETY: the buffer lies mostly outside linear memory and must be refused; written is
        // a live u32.
        Ok(unsafe { abi::get_output(context, 0, out, 64, abi::addr_mut(&mut written)) })
    }

    fn overlapping_pointers(&mut self) -> Result<i32, SetupError> {
        let context = self.computed_context()?;
        let mut buf = vec![0u8; 256];
        let out = abi::addr_mut(buf.as_mut_slice());
        // SAFETY: both pointers are inside buf, which lives across the call.
        Ok(unsafe { abi::get_output(context, 0, out, buf.len() as i32, out + 4) })
    }

    fn use_after_unload(&mut self, twice: bool) -> Result<i32, SetupError> {
        let (errno, graph) = self.load_with_config(self.config.clone().as_bytes());
        setup("load_by_name_with_config", errno)?;
        if Some(graph) == self.graph {
            eprintln!("nn-probe: note: a second load returned the shared graph's handle {graph}");
        }
        // SAFETY: unload takes a handle only.
        setup("unload", unsafe { abi::unload(graph) })?;
        if twice {
            // SAFETY: as above.
            return Ok(unsafe { abi::unload(graph) });
        }
        Ok(init_context(graph).0)
    }

    fn use_after_finalize(&mut self) -> Result<i32, SetupError> {
        let (errno, context) = init_context(self.graph()?);
        setup("init_execution_context", errno)?;
        // SAFETY: both calls take a handle only.
        setup("finalize_execution_context", unsafe {
            abi::finalize_execution_context(context)
        })?;
        Ok(unsafe { abi::compute(context) })
    }

    fn invalid_utf8_prompt(&mut self) -> Result<i32, SetupError> {
        let errno = self.set_input_at(0, b"Once \xff\xfe upon \xc3", abi::TENSOR_U8)?;
        if errno != 0 {
            return Ok(errno);
        }
        let context = self.context()?;
        // SAFETY: compute takes a handle only.
        Ok(unsafe { abi::compute(context) })
    }

    fn set_metadata(&mut self, json: &[u8]) -> Result<i32, SetupError> {
        self.set_input_at(1, json, abi::TENSOR_U8)
    }

    fn wrong_tensor_type(&mut self) -> Result<i32, SetupError> {
        // 16 bytes, so the data length is a whole number of f32 elements.
        self.set_input_at(0, b"Once upon a time", abi::TENSOR_F32)
    }

    fn bad_output_index(&mut self) -> Result<i32, SetupError> {
        let context = self.computed_context()?;
        Ok(read_output(context, 9, 4096).0)
    }

    fn out_max_too_small(&mut self) -> Result<i32, SetupError> {
        let context = self.computed_context()?;
        Ok(read_output(context, 0, 1).0)
    }

    fn stream_to_end(&mut self) -> Result<i32, SetupError> {
        let context = self.context()?;
        setup(
            "set_input",
            self.set_input_at(0, PROMPT.as_bytes(), abi::TENSOR_U8)?,
        )?;
        let mut text = Vec::new();
        let mut errno = 0;
        for _ in 0..MAX_STREAM_STEPS {
            // SAFETY: compute_single takes a handle only.
            errno = unsafe { abi::compute_single(context) };
            if errno != 0 {
                break;
            }
            let (read, piece) = read_single(context);
            setup("get_output_single", read)?;
            text.extend_from_slice(&piece);
        }
        eprintln!(
            "nn-probe: stream-to-end: {:?}",
            String::from_utf8_lossy(&text)
        );
        // SAFETY: fini_single takes a handle only.
        setup("fini_single", unsafe { abi::fini_single(context) })?;
        Ok(errno)
    }

    fn normal_inference(&mut self) -> Result<i32, SetupError> {
        let context = self.context()?;
        let errno = self.set_input_at(0, PROMPT.as_bytes(), abi::TENSOR_U8)?;
        if errno != 0 {
            return Ok(errno);
        }
        // SAFETY: compute takes a handle only.
        let errno = unsafe { abi::compute(context) };
        if errno != 0 {
            return Ok(errno);
        }
        self.computed = true;
        let (errno, text) = read_output(context, 0, 64 * 1024);
        eprintln!(
            "nn-probe: normal-inference: {:?}",
            String::from_utf8_lossy(&text)
        );
        Ok(errno)
    }
}

fn load_by_name(name: &[u8]) -> (i32, i32) {
    let mut graph = -1i32;
    // SAFETY: name is a live slice; graph is a live i32 the host writes.
    let errno = unsafe {
        abi::load_by_name(
            abi::addr(name),
            name.len() as i32,
            abi::addr_mut(&mut graph),
        )
    };
    (errno, graph)
}

/// `load_by_name` with any name pointer and length.
fn raw_load_by_name(name: u32, len: i32) -> i32 {
    let mut graph = -1i32;
    // SAFETY: the host only reads the name (and must refuse one outside memory); graph is a
    // live i32 the host writes.
    unsafe { abi::load_by_name(name as i32, len, abi::addr_mut(&mut graph)) }
}

fn init_context(graph: i32) -> (i32, i32) {
    let mut context = -1i32;
    // SAFETY: context is a live i32 the host writes.
    let errno = unsafe { abi::init_execution_context(graph, abi::addr_mut(&mut context)) };
    (errno, context)
}

/// `load` of one builder holding `bytes`, for the CPU target.
fn load_bytes(bytes: &[u8], encoding: i32) -> i32 {
    let builders = [Builder {
        ptr: abi::addr(bytes) as u32,
        len: bytes.len() as u32,
    }];
    let mut graph = -1i32;
    // SAFETY: the builder array and its bytes are live; graph is a live i32 the host writes.
    unsafe {
        abi::load(
            abi::addr(&builders),
            1,
            encoding,
            abi::TARGET_CPU,
            abi::addr_mut(&mut graph),
        )
    }
}

fn huge_builder_array() -> i32 {
    let builders = [Builder { ptr: 0, len: 0 }];
    let mut graph = -1i32;
    // SAFETY: the host only reads the array (and must refuse its size); graph is a live i32.
    unsafe {
        abi::load(
            abi::addr(&builders),
            0x2000_0000,
            abi::ENCODING_GGML,
            abi::TARGET_CPU,
            abi::addr_mut(&mut graph),
        )
    }
}

/// A GGUF header (magic, version 3) that promises one tensor and one key, then ends.
fn truncated_gguf() -> Vec<u8> {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes
}

/// `get_output` into a fresh buffer of `size` bytes: the errno and the bytes written.
fn read_output(context: i32, index: i32, size: usize) -> (i32, Vec<u8>) {
    let mut buf = vec![0u8; size];
    let mut written = 0u32;
    // SAFETY: buf and written are live and writable for the whole call.
    let errno = unsafe {
        abi::get_output(
            context,
            index,
            abi::addr_mut(buf.as_mut_slice()),
            size as i32,
            abi::addr_mut(&mut written),
        )
    };
    buf.truncate(if errno == 0 {
        (written as usize).min(size)
    } else {
        0
    });
    (errno, buf)
}

/// `get_output_single` (index 0) into a fresh buffer: the errno and the piece.
fn read_single(context: i32) -> (i32, Vec<u8>) {
    let mut buf = vec![0u8; 4096];
    let mut written = 0u32;
    // SAFETY: buf and written are live and writable for the whole call.
    let errno = unsafe {
        abi::get_output_single(
            context,
            0,
            abi::addr_mut(buf.as_mut_slice()),
            buf.len() as i32,
            abi::addr_mut(&mut written),
        )
    };
    buf.truncate(if errno == 0 {
        (written as usize).min(4096)
    } else {
        0
    });
    (errno, buf)
}
