//! Butane (flatcar variant) to Ignition JSON, and one-command configs for LLM nodes.
//!
//! Flatcar reads Ignition JSON once, at first boot. This crate does what the `butane`
//! container does for the `flatcar` variant, without Go or Docker:
//!
//! - [`butane`] parses Butane YAML (`variant: flatcar`, `version: 1.0.0` or `1.1.0`),
//!   validates it with messages that name the field path (`$.storage.links.0.path`) and
//!   translates it into an [`ignition::Config`] (3.3.0 or 3.4.0).
//! - [`dataurl`] turns `inline` and `local` contents into the shortest data URL, gzipped
//!   when that is smaller, exactly as Butane chooses.
//! - [`node`] writes the whole config of an LLM node (sysext images, model, service, SSH
//!   keys) from a few flags, as Butane YAML that goes through the same renderer.
//! - [`limit`] checks DigitalOcean's 64 KiB `user_data` limit and builds the small
//!   `ignition.config.replace` pointer config for a config hosted elsewhere.
//! - [`cli`] holds the `nnedge ignition render|node` subcommands.

pub mod butane;
pub mod cli;
pub mod dataurl;
mod error;
pub mod ignition;
pub mod limit;
pub mod node;
mod yaml;

pub use butane::{render_butane, ButaneVersion, RenderOptions, Rendered};
pub use error::{Diagnostic, IgnitionError, Severity};
pub use limit::{check_user_data, pointer_config, USER_DATA_LIMIT};
pub use node::{render_node_butane, render_node_json, NodeArgs};
