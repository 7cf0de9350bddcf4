//! Graph encodings and execution targets, as numbered by the `wasi_ephemeral_nn` ABI and as
//! named in `--nn-preload` specifications.

use std::fmt;

/// A model encoding of the WASI-NN ABI. nnedge implements only [`GraphEncoding::Ggml`];
/// the others are known so that errors can name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GraphEncoding {
    /// OpenVINO IR (ABI value 0).
    Openvino,
    /// ONNX (1).
    Onnx,
    /// TensorFlow (2).
    Tensorflow,
    /// PyTorch (3).
    Pytorch,
    /// TensorFlow Lite (4).
    TensorflowLite,
    /// Autodetect (5).
    Autodetect,
    /// GGUF models run by llama.cpp (6), the only encoding nnedge implements.
    Ggml,
}

impl GraphEncoding {
    const ALL: [(GraphEncoding, &'static str); 7] = [
        (Self::Openvino, "OpenVINO"),
        (Self::Onnx, "ONNX"),
        (Self::Tensorflow, "Tensorflow"),
        (Self::Pytorch, "PyTorch"),
        (Self::TensorflowLite, "TensorflowLite"),
        (Self::Autodetect, "Autodetect"),
        (Self::Ggml, "GGML"),
    ];

    /// The encoding with ABI number `value`, if the ABI defines one.
    pub fn from_abi(value: u32) -> Option<Self> {
        Self::ALL.get(usize::try_from(value).ok()?).map(|(e, _)| *e)
    }

    /// The encoding named `name`, compared without regard to case.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(e, _)| *e)
    }

    /// The conventional name of the encoding (`GGML`, `ONNX`, ...).
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(e, _)| *e == self)
            .map_or("unknown", |(_, n)| n)
    }
}

impl fmt::Display for GraphEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a guest asks a graph to run. This build of llama.cpp is CPU-only, so every target
/// runs on the CPU; `GPU`, `TPU` and `AUTO` are accepted (with a debug log) so that guests
/// written for GPU hosts run unmodified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ExecutionTarget {
    /// The CPU (ABI value 0).
    Cpu,
    /// A GPU (1).
    Gpu,
    /// A TPU (2).
    Tpu,
    /// Let the runtime choose (3).
    #[default]
    Auto,
}

impl ExecutionTarget {
    const ALL: [(ExecutionTarget, &'static str); 4] = [
        (Self::Cpu, "CPU"),
        (Self::Gpu, "GPU"),
        (Self::Tpu, "TPU"),
        (Self::Auto, "AUTO"),
    ];

    /// The target with ABI number `value`, if the ABI defines one.
    pub fn from_abi(value: u32) -> Option<Self> {
        Self::ALL.get(usize::try_from(value).ok()?).map(|(t, _)| *t)
    }

    /// The target named `name` (`CPU`, `GPU`, `TPU`, `AUTO`), compared without regard to case.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(t, _)| *t)
    }

    /// The upper-case name of the target.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(t, _)| *t == self)
            .map_or("unknown", |(_, n)| n)
    }
}

impl fmt::Display for ExecutionTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_numbers_match_wasi_nn() {
        assert_eq!(GraphEncoding::from_abi(6), Some(GraphEncoding::Ggml));
        assert_eq!(GraphEncoding::from_abi(0), Some(GraphEncoding::Openvino));
        assert_eq!(GraphEncoding::from_abi(7), None);
        assert_eq!(ExecutionTarget::from_abi(0), Some(ExecutionTarget::Cpu));
        assert_eq!(ExecutionTarget::from_abi(3), Some(ExecutionTarget::Auto));
        assert_eq!(ExecutionTarget::from_abi(4), None);
        assert_eq!(ExecutionTarget::from_abi(u32::MAX), None);
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(GraphEncoding::from_name("ggml"), Some(GraphEncoding::Ggml));
        assert_eq!(
            ExecutionTarget::from_name("gpu"),
            Some(ExecutionTarget::Gpu)
        );
        assert_eq!(
            ExecutionTarget::from_name("Auto"),
            Some(ExecutionTarget::Auto)
        );
        assert_eq!(ExecutionTarget::from_name("NPU"), None);
    }
}
