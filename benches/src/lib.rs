//! nnedge's benchmarks: [`infer`] (llama-bench-style pp/tg through a Wasm guest and natively),
//! [`serve`] (a load generator for OpenAI-compatible endpoints), [`droplet`] (`serve` on
//! each DigitalOcean droplet size, priced per million tokens), [`batched`] (the native
//! ceiling of continuous batching), their [`report`]s and
//! [`plot`]s, and the shared pieces every bench uses: what [`machine`] a figure was measured
//! on, which versions ([`environment`]), and [`stats`]. [`cli`] is the `bench` command line,
//! run by the `nnedge-bench` binary and wired into `nnedge bench`.

pub mod batched;
pub mod cli;
pub mod droplet;
pub mod environment;
pub mod infer;
pub mod machine;
pub mod plot;
pub mod report;
pub mod serve;
pub mod stats;
