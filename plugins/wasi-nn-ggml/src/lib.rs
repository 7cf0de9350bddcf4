//! WASI-NN GGML backend (in progress).
