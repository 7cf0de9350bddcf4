//! Load balancers: DigitalOcean's own balancer in front of several nodes.
//!
//! `deploy node --count N` creates one balancer that targets the deployment's tag, forwards
//! port 80 to the nodes' server port, and health-checks `/health` there.

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::droplets::RegionRef;
use crate::error::DoError;
use crate::wait::{poll_until, Interrupt, PollPolicy};

/// A load balancer as the API describes it (the fields nnedge uses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancer {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Public IPv4 address; empty until assigned.
    #[serde(default)]
    pub ip: String,
    /// `new`, `active` or `errored`.
    #[serde(default)]
    pub status: String,
    /// Tag whose droplets it balances, if created by tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Droplets behind it.
    #[serde(default)]
    pub droplet_ids: Vec<u64>,
    /// Region.
    pub region: RegionRef,
}

/// One forwarding rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardingRule {
    /// `http`, `https`, `tcp`, ...
    pub entry_protocol: String,
    /// Port clients connect to.
    pub entry_port: u16,
    /// Protocol towards the droplets.
    pub target_protocol: String,
    /// Port on the droplets.
    pub target_port: u16,
}

/// How the balancer checks a droplet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// `http`, `https` or `tcp`.
    pub protocol: String,
    /// Port on the droplet.
    pub port: u16,
    /// Path for http(s) checks.
    pub path: String,
    /// Seconds between checks.
    pub check_interval_seconds: u32,
    /// Seconds before a check counts as failed.
    pub response_timeout_seconds: u32,
    /// Failures before a droplet is taken out.
    pub unhealthy_threshold: u32,
    /// Successes before it is put back.
    pub healthy_threshold: u32,
}

/// Body of `POST /v2/load_balancers` (the by-tag form).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadBalancerCreate {
    /// Name.
    pub name: String,
    /// Region slug.
    pub region: String,
    /// Balance every droplet with this tag.
    pub tag: String,
    /// At least one rule.
    pub forwarding_rules: Vec<ForwardingRule>,
    /// Health check.
    pub health_check: HealthCheck,
}

impl LoadBalancerCreate {
    /// HTTP on port 80 forwarded to `server_port` on every droplet tagged `tag`, checked at
    /// `/health` on that port.
    pub fn http_to_tag(name: &str, region: &str, tag: &str, server_port: u16) -> Self {
        Self {
            name: name.to_owned(),
            region: region.to_owned(),
            tag: tag.to_owned(),
            forwarding_rules: vec![ForwardingRule {
                entry_protocol: "http".into(),
                entry_port: 80,
                target_protocol: "http".into(),
                target_port: server_port,
            }],
            health_check: HealthCheck {
                protocol: "http".into(),
                port: server_port,
                path: "/health".into(),
                check_interval_seconds: 10,
                response_timeout_seconds: 5,
                unhealthy_threshold: 3,
                healthy_threshold: 3,
            },
        }
    }
}

#[derive(Deserialize)]
struct LoadBalancerEnvelope {
    load_balancer: LoadBalancer,
}

impl Client {
    /// Creates a load balancer.
    pub async fn create_load_balancer(
        &self,
        request: &LoadBalancerCreate,
    ) -> Result<LoadBalancer, DoError> {
        let url = self.url("v2/load_balancers", &[])?;
        let envelope: LoadBalancerEnvelope = self.post(url, request).await?;
        Ok(envelope.load_balancer)
    }

    /// Every load balancer.
    pub async fn list_load_balancers(&self) -> Result<Vec<LoadBalancer>, DoError> {
        self.list_all("v2/load_balancers", &[], "load_balancers")
            .await
    }

    /// One load balancer.
    pub async fn get_load_balancer(&self, id: &str) -> Result<LoadBalancer, DoError> {
        let url = self.url_segments(&["v2", "load_balancers", id])?;
        let envelope: LoadBalancerEnvelope = self.get(url).await?;
        Ok(envelope.load_balancer)
    }

    /// Deletes a load balancer.
    pub async fn delete_load_balancer(&self, id: &str) -> Result<(), DoError> {
        self.delete(self.url_segments(&["v2", "load_balancers", id])?)
            .await
    }

    /// Polls until the balancer is `active` with an address; `errored` is a failure.
    pub async fn wait_for_load_balancer(
        &self,
        id: &str,
        policy: PollPolicy,
        interrupt: &Interrupt,
    ) -> Result<LoadBalancer, DoError> {
        let what = format!("load balancer {id}");
        poll_until(&what, "active", policy, interrupt, || async {
            let balancer = self.get_load_balancer(id).await?;
            match balancer.status.as_str() {
                "active" if !balancer.ip.is_empty() => Ok(Some(balancer)),
                "errored" => Err(DoError::LoadBalancerErrored { id: id.to_owned() }),
                _ => Ok(None),
            }
        })
        .await
    }
}
