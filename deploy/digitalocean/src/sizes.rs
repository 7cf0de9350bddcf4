//! Droplet sizes and their prices.

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::DoError;

/// A droplet size as the API describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Size {
    /// Slug used in create requests (`s-2vcpu-4gb`).
    pub slug: String,
    /// Memory in MiB.
    pub memory: u64,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Disk in GB.
    pub disk: u64,
    /// Outbound transfer allowance in TB.
    pub transfer: f64,
    /// US dollars per month.
    pub price_monthly: f64,
    /// US dollars per hour.
    pub price_hourly: f64,
    /// Regions offering the size.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Whether it can be created now.
    pub available: bool,
    /// Human description.
    #[serde(default)]
    pub description: Option<String>,
}

impl Client {
    /// Every size, with prices.
    pub async fn list_sizes(&self) -> Result<Vec<Size>, DoError> {
        self.list_all("v2/sizes", &[], "sizes").await
    }
}
