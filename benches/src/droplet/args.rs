//! The arguments of `bench droplet`: the sizes, what `nnedge deploy node` would be told
//! about each node, and the load of `bench serve`.

use std::path::PathBuf;

use clap::Args;
use nnedge_digitalocean::deploy::{HealthScheme, NodeOptions, DEFAULT_SERVER_PORT};
use nnedge_ignition::node::NodeArgs;

use crate::cli::LoadArgs;

/// Arguments of `bench droplet`.
#[derive(Debug, Clone, Args)]
pub struct DropletArgs {
    /// Droplet sizes to measure, one after another (comma-separated slugs; see
    /// `nnedge do sizes list`).
    #[arg(long, value_delimiter = ',', required = true)]
    pub sizes: Vec<String>,

    /// Region (`fra1`).
    #[arg(long)]
    pub region: String,

    /// Image id or slug (default: the newest available image tagged `flatcar` in the region).
    #[arg(long)]
    pub image: Option<String>,

    /// SSH key: id, fingerprint or name (repeatable).
    #[arg(long = "ssh-key")]
    pub ssh_keys: Vec<String>,

    /// Name prefix: each droplet is PREFIX-SIZE, and tagged with its name (the tag must be
    /// unused, as for `deploy node`).
    #[arg(long, default_value = "nnedge-bench")]
    pub name: String,

    /// Port of the node's server when --ignition is given [default: 8080]; with the node
    /// flags, their --port.
    #[arg(long)]
    pub health_port: Option<u16>,

    /// Longest wait, in seconds, for a new droplet's `/health` to answer 200 (its first
    /// boot downloads the sysext images and the model).
    #[arg(long, default_value_t = 1200, value_parser = clap::value_parser!(u64).range(1..))]
    pub health_timeout: u64,

    /// What to send each droplet.
    #[command(flatten)]
    pub load: LoadArgs,

    /// API key the load generator sends [default: the node's --api-key].
    #[arg(long, env = "NNEDGE_BENCH_API_KEY", hide_env_values = true)]
    pub bench_api_key: Option<String>,

    /// Print the plan and each API request (token redacted); create nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Read the API token from FILE instead of DIGITALOCEAN_ACCESS_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Also write droplet.{md,json,csv,svg} into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Use this Ignition JSON as user data instead of rendering one from the node flags.
    #[arg(long, value_name = "FILE", conflicts_with = "NodeArgs")]
    pub ignition: Option<PathBuf>,

    /// The node's configuration, as for `nnedge deploy node`; absent when --ignition is
    /// given.
    #[command(flatten, next_help_heading = "Node configuration")]
    pub node: Option<NodeArgs>,
}

impl DropletArgs {
    /// The droplet (and tag) name for `size`.
    pub fn droplet_name(&self, size: &str) -> String {
        format!("{}-{size}", self.name)
    }

    /// What `deploy node` is told for one size: one droplet, deleted again whatever
    /// happens (also after Ctrl-C).
    pub fn node_options(&self, size: &str) -> NodeOptions {
        NodeOptions {
            name: self.droplet_name(size),
            region: self.region.clone(),
            size: size.to_owned(),
            count: 1,
            image: self.image.clone(),
            ssh_keys: self.ssh_keys.clone(),
            tag: None,
            keep_on_failure: false,
            delete_on_interrupt: true,
            health_port: self.health_port,
            health_scheme: HealthScheme::Http,
            ignition: self.ignition.clone(),
            node: self.node.clone(),
        }
    }

    /// The port the node's server listens on.
    pub fn server_port(&self) -> u16 {
        match &self.node {
            Some(node) => node.port,
            None => self.health_port.unwrap_or(DEFAULT_SERVER_PORT),
        }
    }

    /// The key the load generator sends: --bench-api-key, else the node's own key.
    pub fn request_api_key(&self) -> Option<String> {
        let node_key = self.node.as_ref().and_then(|n| n.api_key.as_ref());
        self.bench_api_key
            .clone()
            .or_else(|| node_key.map(|key| key.expose().to_owned()))
    }

    /// What runs on each node, for the report: the preset, model and sysext versions of
    /// the node flags, or the Ignition file's name (never URLs, which may carry
    /// credentials, nor the API key).
    pub fn node_summary(&self) -> String {
        let port = self.server_port();
        match (&self.node, &self.ignition) {
            (Some(node), _) => {
                let mut text = format!(
                    "preset {}, model {}, ctx {}, port {port}",
                    node.preset.name(),
                    node.model_file,
                    node.ctx_size
                );
                for version in &node.sysext_versions {
                    text.push_str(&format!(", {}={}", version.name, version.value));
                }
                text
            }
            (None, Some(path)) => {
                let file = path.file_name().unwrap_or(path.as_os_str());
                format!("Ignition file `{}`, port {port}", file.to_string_lossy())
            }
            (None, None) => format!("no node configuration given, port {port}"),
        }
    }

    /// The model file the nodes serve, when the node flags name it.
    pub fn model_file(&self) -> Option<String> {
        self.node.as_ref().map(|n| n.model_file.clone())
    }

    /// The sizes given, each once, in order.
    pub fn unique_sizes(&self) -> Vec<String> {
        let mut sizes: Vec<String> = Vec::new();
        for size in &self.sizes {
            let size = size.trim();
            if !size.is_empty() && !sizes.iter().any(|s| s == size) {
                sizes.push(size.to_owned());
            }
        }
        sizes
    }
}
