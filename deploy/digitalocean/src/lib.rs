//! DigitalOcean for nnedge: an API client, the `nnedge do …` and `nnedge deploy …`
//! commands, and (feature `fake`) a local fake of the API for tests.
//!
//! * [`client`] sends requests (hyper + rustls), with [`retry`] and [`pagination`].
//! * [`images`], [`droplets`], [`keys`], [`sizes`], [`regions`], [`load_balancers`] wrap the
//!   endpoints nnedge uses, with the checks that can run before a call.
//! * [`deploy`] provisions Flatcar LLM nodes and tears them down.
//! * [`cli`] holds the clap commands the `nnedge` binary embeds.

pub mod cli;
pub mod client;
mod commands;
pub mod deploy;
pub mod droplets;
pub mod error;
#[cfg(feature = "fake")]
pub mod fake;
pub mod images;
pub mod keys;
pub mod load_balancers;
pub mod output;
pub mod pagination;
pub mod regions;
pub mod retry;
pub mod session;
pub mod sizes;
pub mod token;
pub mod wait;

pub use client::{Client, ClientConfig};
pub use error::DoError;
pub use token::ApiToken;
