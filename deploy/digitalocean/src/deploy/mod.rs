//! `nnedge deploy`: Flatcar LLM nodes on DigitalOcean, and their removal.
//!
//! * [`node`] renders the node's Ignition config, checks everything it can before creating
//!   anything (names, user-data size, region, size, image, SSH keys, an unused tag), creates
//!   the droplets under one deployment tag, waits for them and for `/health` on each, and
//!   with `--count N > 1` puts a DigitalOcean load balancer in front.
//! * If a step fails after droplets exist, the clean-up step deletes what the run created (or, with
//!   `--keep-on-failure` or after Ctrl-C, says exactly what exists and how to delete it).
//! * [`destroy`] removes a deployment's load balancer and droplets by tag.

mod cleanup;
mod destroy;
mod error;
mod health;
mod node;

use std::path::PathBuf;

use nnedge_ignition::node::NodeArgs;

pub use destroy::destroy;
pub use error::DeployError;
pub use node::{node, provision, BalancerEndpoint, Deployment, NodeEndpoint};

/// Most droplets one create request makes.
///
/// The API takes at most ten names per `POST /v2/droplets`. TODO(#7): larger deployments
/// need several create requests (and per-batch clean-up).
pub const MAX_COUNT: u8 = 10;

/// `--count` accepts 1 to [`MAX_COUNT`].
fn count_range() -> clap::builder::RangedI64ValueParser<u8> {
    clap::value_parser!(u8).range(1..=i64::from(MAX_COUNT))
}

/// Scheme of the `/health` probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum HealthScheme {
    /// Plain HTTP (nnedge serve's default).
    #[default]
    Http,
    /// HTTPS.
    Https,
}

impl HealthScheme {
    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// `nnedge deploy node`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeOptions {
    /// Droplet name; with --count > 1 the droplets are NAME-1 … NAME-N.
    #[arg(long, default_value = "nnedge-node")]
    pub name: String,
    /// Region (`fra1`).
    #[arg(long)]
    pub region: String,
    /// Droplet size (`s-4vcpu-8gb`).
    #[arg(long)]
    pub size: String,
    /// Number of droplets; more than one adds a load balancer.
    #[arg(long, default_value_t = 1, value_parser = count_range())]
    pub count: u8,
    /// Image id or slug (default: the newest available image tagged `flatcar` in the region).
    #[arg(long)]
    pub image: Option<String>,
    /// SSH key: id, fingerprint or name (repeatable).
    #[arg(long = "ssh-key")]
    pub ssh_keys: Vec<String>,
    /// Deployment tag put on every droplet (default: NAME); must not be in use yet.
    #[arg(long)]
    pub tag: Option<String>,
    /// On failure, leave what was created and print how to delete it.
    #[arg(long)]
    pub keep_on_failure: bool,
    /// Delete what was created also after Ctrl-C. `deploy node` leaves it and says how to
    /// delete it (the user may want to look); `nnedge bench droplet` sets this, since a
    /// benchmark's droplet is never wanted afterwards. Not a flag.
    #[arg(skip)]
    pub delete_on_interrupt: bool,
    /// Port of the `/health` probe (default: the server's --port).
    #[arg(long)]
    pub health_port: Option<u16>,
    /// Scheme of the `/health` probe.
    #[arg(long, value_enum, default_value_t = HealthScheme::Http)]
    pub health_scheme: HealthScheme,
    /// Use this Ignition JSON as user data instead of rendering one from the node flags.
    #[arg(long, value_name = "FILE", conflicts_with = "NodeArgs")]
    pub ignition: Option<PathBuf>,
    /// The node's configuration, rendered into its Ignition config (`--model-url`, the
    /// sysext flags, `--port`, ...); absent when --ignition is given.
    #[command(flatten, next_help_heading = "Node configuration")]
    pub node: Option<NodeArgs>,
}

impl NodeOptions {
    /// Port the node's API server listens on: the rendered config's `--port`, else
    /// `--health-port`, else 8080. The load balancer forwards port 80 to it.
    pub fn server_port(&self) -> u16 {
        match &self.node {
            Some(node) => node.port,
            None => self.health_port.unwrap_or(DEFAULT_SERVER_PORT),
        }
    }

    /// Port the `/health` probe goes to.
    pub fn health_port(&self) -> u16 {
        self.health_port.unwrap_or_else(|| self.server_port())
    }
}

/// The server port when an `--ignition` file is deployed and no port is given.
pub const DEFAULT_SERVER_PORT: u16 = 8080;

/// `nnedge deploy destroy`.
#[derive(Debug, Clone, clap::Args)]
pub struct DestroyOptions {
    /// The deployment tag (the node NAME unless --tag was given to `deploy node`).
    #[arg(long)]
    pub tag: String,
}

/// The name of the load balancer of deployment `tag`.
pub(crate) fn load_balancer_name(tag: &str) -> String {
    let cleaned: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{}-lb", cleaned.trim_matches('-'))
}

/// Checks a tag name as the API would: letters, digits, `:`, `-`, `_`, at most 255.
pub(crate) fn validate_tag(tag: &str) -> Result<(), DeployError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_');
    if tag.is_empty() || tag.len() > 255 || !tag.chars().all(allowed) {
        return Err(DeployError::InvalidTag {
            tag: tag.to_owned(),
        });
    }
    Ok(())
}
