//! The `nnedge do …` and `nnedge deploy …` commands.
//!
//! The `nnedge` binary flattens [`GlobalArgs`] and embeds [`DoCommand`] and
//! [`DeployCommand`] as subcommands, then calls [`run_do`] / [`run_deploy`] (or the
//! `_blocking` forms outside a runtime). `--dry-run` ends successfully at the first request
//! that would change something, after printing it.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::deploy::{DestroyOptions, NodeOptions};
use crate::error::DoError;
use crate::images::FlatcarChannel;
use crate::output::OutputFormat;
use crate::session::{RunEnv, Session};

/// Flags shared by every `do` and `deploy` command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// How to print results.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table, global = true)]
    pub output: OutputFormat,
    /// Print each API request (token redacted) and stop before the first one that would
    /// change anything; read-only requests are still sent.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Read the API token from FILE instead of DIGITALOCEAN_ACCESS_TOKEN.
    #[arg(long, value_name = "FILE", global = true)]
    pub token_file: Option<PathBuf>,
}

/// `nnedge do …`: DigitalOcean resources, doctl style.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DoCommand {
    /// Custom images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Droplets.
    #[command(subcommand)]
    Droplet(DropletCommand),
    /// SSH keys on the account.
    #[command(subcommand)]
    Keys(ListOnly),
    /// Droplet sizes and prices.
    #[command(subcommand)]
    Sizes(ListOnly),
}

/// A resource that can only be listed.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ListOnly {
    /// List them.
    List,
}

/// `nnedge do image …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ImageCommand {
    /// Import a custom image from a URL.
    Create(ImageCreateArgs),
    /// Import Flatcar's DigitalOcean image for a channel and version.
    Flatcar(FlatcarArgs),
    /// List the account's custom images.
    List {
        /// Only images with this tag.
        #[arg(long)]
        tag: Option<String>,
    },
    /// Show one image (id or slug).
    Get {
        /// Image id or slug.
        id: String,
    },
    /// Delete an image.
    Delete {
        /// Image id.
        id: u64,
    },
}

/// `nnedge do image create`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageCreateArgs {
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// http(s) URL of a raw/qcow2/vhdx/vdi/vmdk image, optionally .gz or .bz2.
    #[arg(long)]
    pub url: String,
    /// Region to import into (`fra1`).
    #[arg(long)]
    pub region: String,
    /// Distribution (`Ubuntu`, `CoreOS`, ... or `Unknown`).
    #[arg(long)]
    pub distribution: Option<String>,
    /// Free-text description.
    #[arg(long)]
    pub description: Option<String>,
    /// Tag to apply (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Wait until the import is `available` (or report why it failed).
    #[arg(long)]
    pub wait: bool,
}

/// `nnedge do image flatcar`.
#[derive(Debug, Clone, clap::Args)]
pub struct FlatcarArgs {
    /// Release channel.
    #[arg(long, value_enum, default_value_t = FlatcarChannel::Stable)]
    pub channel: FlatcarChannel,
    /// Release version (`4081.2.0`) or `current`.
    #[arg(long, default_value = "current")]
    pub version: String,
    /// Region to import into.
    #[arg(long)]
    pub region: String,
    /// Display name (default `flatcar-CHANNEL-VERSION`).
    #[arg(long)]
    pub name: Option<String>,
    /// Wait until the import is `available`.
    #[arg(long)]
    pub wait: bool,
}

/// `nnedge do droplet …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DropletCommand {
    /// Create droplets.
    Create(DropletCreateArgs),
    /// List droplets.
    List {
        /// Only droplets with this tag.
        #[arg(long)]
        tag: Option<String>,
    },
    /// Show one droplet.
    Get {
        /// Droplet id.
        id: u64,
    },
    /// Delete a droplet, or every droplet with a tag.
    Delete {
        /// Droplet id.
        #[arg(required_unless_present = "tag", conflicts_with = "tag")]
        id: Option<u64>,
        /// Delete every droplet with this tag.
        #[arg(long)]
        tag: Option<String>,
    },
}

/// `nnedge do droplet create`.
#[derive(Debug, Clone, clap::Args)]
pub struct DropletCreateArgs {
    /// Droplet names (letters, digits, `.`, `-`).
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Region (`fra1`).
    #[arg(long)]
    pub region: String,
    /// Size slug (`s-2vcpu-4gb`).
    #[arg(long)]
    pub size: String,
    /// Image id or slug.
    #[arg(long)]
    pub image: String,
    /// SSH key: id, fingerprint or name (repeatable).
    #[arg(long = "ssh-key")]
    pub ssh_keys: Vec<String>,
    /// User data file (cloud-init or Ignition), at most 64 KiB.
    #[arg(long, value_name = "FILE", conflicts_with = "ignition")]
    pub user_data_file: Option<PathBuf>,
    /// Ignition JSON file to pass as user data (checked to be an Ignition config).
    #[arg(long, value_name = "FILE")]
    pub ignition: Option<PathBuf>,
    /// Tag to apply (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Wait until active and print the public IPv4.
    #[arg(long)]
    pub wait: bool,
}

/// `nnedge deploy …`: LLM nodes on DigitalOcean.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DeployCommand {
    /// Create node droplets (and a load balancer for --count > 1), wait for /health.
    Node(Box<NodeOptions>),
    /// Delete the droplets and load balancer of a deployment.
    Destroy(DestroyOptions),
}

/// Runs a `do` command with the process environment.
pub async fn run_do(global: &GlobalArgs, command: &DoCommand) -> anyhow::Result<()> {
    run_do_with(global, command, RunEnv::from_process()?).await
}

/// Runs a `do` command with an explicit environment (tests point it at the fake).
pub async fn run_do_with(
    global: &GlobalArgs,
    command: &DoCommand,
    env: RunEnv,
) -> anyhow::Result<()> {
    let session = Session::open(global, env)?;
    finish_dry_run(crate::commands::run(&session, command).await)
}

/// Runs a `deploy` command with the process environment.
pub async fn run_deploy(global: &GlobalArgs, command: &DeployCommand) -> anyhow::Result<()> {
    run_deploy_with(global, command, RunEnv::from_process()?).await
}

/// Runs a `deploy` command with an explicit environment.
pub async fn run_deploy_with(
    global: &GlobalArgs,
    command: &DeployCommand,
    env: RunEnv,
) -> anyhow::Result<()> {
    let session = Session::open(global, env)?;
    let outcome = match command {
        DeployCommand::Node(options) => crate::deploy::node(&session, options).await,
        DeployCommand::Destroy(options) => crate::deploy::destroy(&session, options).await,
    };
    finish_dry_run(outcome)
}

/// [`run_do`] on a new tokio runtime, for callers without one.
pub fn run_do_blocking(global: &GlobalArgs, command: &DoCommand) -> anyhow::Result<()> {
    runtime()?.block_on(run_do(global, command))
}

/// [`run_deploy`] on a new tokio runtime, for callers without one.
pub fn run_deploy_blocking(global: &GlobalArgs, command: &DeployCommand) -> anyhow::Result<()> {
    runtime()?.block_on(run_deploy(global, command))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("failed to start the tokio runtime")
}

/// A dry run that stopped at its first change is a success.
fn finish_dry_run(outcome: anyhow::Result<()>) -> anyhow::Result<()> {
    match outcome {
        Err(e)
            if e.chain()
                .any(|c| matches!(c.downcast_ref(), Some(DoError::DryRunStop))) =>
        {
            tracing::info!("dry run: stopped before the first request that changes state");
            Ok(())
        }
        other => other,
    }
}
