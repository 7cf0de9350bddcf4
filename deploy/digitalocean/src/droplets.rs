//! Droplets: create (with user data), list, get, delete, wait until active.
//!
//! Inputs the API would refuse are caught before any call: names are checked by
//! [`validate_droplet_name`], user data by [`check_user_data`]. User data travels as a
//! JSON string serialised by serde, so backslashes, quotes and newlines in an Ignition
//! config arrive exactly as written.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::DoError;
use crate::wait::{poll_until, Interrupt, PollPolicy};

/// DigitalOcean's limit on droplet user data: 64 KiB. The ignition crate checks its
/// rendered configs against the same number.
pub const USER_DATA_LIMIT: usize = 64 * 1024;
const _: () = assert!(USER_DATA_LIMIT == nnedge_ignition::USER_DATA_LIMIT);

/// Longest droplet name the API accepts.
pub const DROPLET_NAME_MAX: usize = 255;

/// A droplet as the API describes it (the fields nnedge uses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Droplet {
    /// Numeric id.
    pub id: u64,
    /// Name (also the hostname).
    pub name: String,
    /// `new`, `active`, `off` or `archive`.
    pub status: String,
    /// Size slug (`s-2vcpu-4gb`).
    #[serde(default)]
    pub size_slug: String,
    /// Region.
    pub region: RegionRef,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Addresses.
    #[serde(default)]
    pub networks: Networks,
    /// Creation time (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
    /// The image it was created from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<DropletImage>,
}

/// The image part of a droplet (the fields a report names it by).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DropletImage {
    /// Image id.
    #[serde(default)]
    pub id: Option<u64>,
    /// Display name (`flatcar-stable-4081.2.0`).
    #[serde(default)]
    pub name: Option<String>,
    /// Public slug, for public images.
    #[serde(default)]
    pub slug: Option<String>,
    /// Distribution (`CoreOS`, `Ubuntu`, ...).
    #[serde(default)]
    pub distribution: Option<String>,
}

impl DropletImage {
    /// `name (id N)`, or whichever part is known.
    pub fn describe(&self) -> String {
        let name = self.name.clone().or_else(|| self.slug.clone());
        match (name, self.id) {
            (Some(name), Some(id)) => format!("{name} (id {id})"),
            (Some(name), None) => name,
            (None, Some(id)) => format!("id {id}"),
            (None, None) => "unknown".to_owned(),
        }
    }
}

/// The region part of a droplet or load balancer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionRef {
    /// Region slug (`fra1`).
    pub slug: String,
}

/// A droplet's addresses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Networks {
    /// IPv4 addresses.
    #[serde(default)]
    pub v4: Vec<NetworkV4>,
}

/// One IPv4 address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkV4 {
    /// The address.
    pub ip_address: Ipv4Addr,
    /// `public` or `private`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl Droplet {
    /// The first public IPv4 address, once assigned.
    pub fn public_ipv4(&self) -> Option<Ipv4Addr> {
        self.networks
            .v4
            .iter()
            .find(|n| n.kind == "public")
            .map(|n| n.ip_address)
    }
}

/// An image reference in a create request: numeric id or public slug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ImageRef {
    /// A custom or public image id.
    Id(u64),
    /// A public image slug.
    Slug(String),
}

impl ImageRef {
    /// Digits are an id; anything else is a slug.
    pub fn parse(text: &str) -> Self {
        text.parse()
            .map_or_else(|_| Self::Slug(text.to_owned()), Self::Id)
    }
}

/// Body of `POST /v2/droplets` (the multiple-droplet form, also used for one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DropletCreate {
    /// One name per droplet.
    pub names: Vec<String>,
    /// Region slug.
    pub region: String,
    /// Size slug.
    pub size: String,
    /// Image id or slug.
    pub image: ImageRef,
    /// SSH key ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<u64>,
    /// Cloud-init or Ignition data, at most [`USER_DATA_LIMIT`] bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Deserialize)]
struct DropletsEnvelope {
    droplets: Vec<Droplet>,
}

#[derive(Deserialize)]
struct DropletEnvelope {
    droplet: Droplet,
}

/// Checks a droplet name as the API would, with a reason the user can act on.
pub fn validate_droplet_name(name: &str) -> Result<(), DoError> {
    let refuse = |reason: String| DoError::InvalidDropletName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(refuse("it is empty".into()));
    }
    if name.len() > DROPLET_NAME_MAX {
        return Err(refuse(format!("it is {} characters long", name.len())));
    }

    let mut bad: Vec<char> = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
        .collect();
    bad.dedup();
    if !bad.is_empty() {
        let listed: Vec<String> = bad.iter().map(|c| format!("`{c}`")).collect();
        return Err(refuse(format!("{} not allowed", listed.join(", "))));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(name.chars().next()) || !alnum(name.chars().next_back()) {
        return Err(refuse("it starts or ends with `.` or `-`".into()));
    }
    Ok(())
}

/// Checks user data against [`USER_DATA_LIMIT`].
pub fn check_user_data(user_data: &str) -> Result<(), DoError> {
    if user_data.len() > USER_DATA_LIMIT {
        return Err(DoError::UserDataTooLarge {
            size: user_data.len(),
            limit: USER_DATA_LIMIT,
        });
    }
    Ok(())
}

impl DropletCreate {
    /// Runs every check that can be done without the API.
    pub fn validate(&self) -> Result<(), DoError> {
        self.names
            .iter()
            .try_for_each(|name| validate_droplet_name(name))?;
        self.user_data.as_deref().map_or(Ok(()), check_user_data)
    }
}

impl Client {
    /// Creates droplets, after [`DropletCreate::validate`].
    pub async fn create_droplets(&self, request: &DropletCreate) -> Result<Vec<Droplet>, DoError> {
        request.validate()?;
        let url = self.url("v2/droplets", &[])?;
        let envelope: DropletsEnvelope = self.post(url, request).await?;
        Ok(envelope.droplets)
    }

    /// All droplets, or those tagged `tag`.
    pub async fn list_droplets(&self, tag: Option<&str>) -> Result<Vec<Droplet>, DoError> {
        let query: Vec<(&str, String)> = tag
            .map(|t| vec![("tag_name", t.to_owned())])
            .unwrap_or_default();
        self.list_all("v2/droplets", &query, "droplets").await
    }

    /// One droplet.
    pub async fn get_droplet(&self, id: u64) -> Result<Droplet, DoError> {
        let envelope: DropletEnvelope = self
            .get(self.url(&format!("v2/droplets/{id}"), &[])?)
            .await?;
        Ok(envelope.droplet)
    }

    /// Deletes one droplet.
    pub async fn delete_droplet(&self, id: u64) -> Result<(), DoError> {
        self.delete(self.url(&format!("v2/droplets/{id}"), &[])?)
            .await
    }

    /// Deletes every droplet tagged `tag`.
    pub async fn delete_droplets_by_tag(&self, tag: &str) -> Result<(), DoError> {
        self.delete(self.url("v2/droplets", &[("tag_name", tag.to_owned())])?)
            .await
    }

    /// Polls until every droplet in `ids` is `active` with a public IPv4 address.
    pub async fn wait_for_droplets(
        &self,
        ids: &[u64],
        policy: PollPolicy,
        interrupt: &Interrupt,
    ) -> Result<Vec<Droplet>, DoError> {
        let what = match ids {
            [id] => format!("droplet {id}"),
            _ => format!("{} droplets", ids.len()),
        };
        poll_until(&what, "active", policy, interrupt, || async {
            let mut ready = Vec::with_capacity(ids.len());
            for id in ids {
                let droplet = self.get_droplet(*id).await?;
                if droplet.status != "active" || droplet.public_ipv4().is_none() {
                    return Ok(None);
                }
                ready.push(droplet);
            }
            Ok(Some(ready))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_underscores_say_what_is_allowed() {
        let err = validate_droplet_name("llm_node_1").unwrap_err().to_string();
        assert!(err.contains("`_` not allowed"), "{err}");
        assert!(err.contains("letters, digits, `.` and `-`"), "{err}");
    }

    #[test]
    fn good_and_bad_names() {
        for good in ["node-1", "a", "llm.example.com", "N0DE"] {
            assert!(validate_droplet_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-node", "node-", "nöde", "a b", &"x".repeat(256)] {
            assert!(validate_droplet_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_data_limit_is_inclusive() {
        assert!(check_user_data(&"x".repeat(USER_DATA_LIMIT)).is_ok());
        let err = check_user_data(&"x".repeat(USER_DATA_LIMIT + 1)).unwrap_err();
        assert!(matches!(
            err,
            DoError::UserDataTooLarge {
                size: 65537,
                limit: 65536
            }
        ));
    }

    #[test]
    fn a_droplet_names_its_image_as_far_as_known() {
        let image = |id, name: Option<&str>| DropletImage {
            id,
            name: name.map(str::to_owned),
            ..DropletImage::default()
        };
        assert_eq!(
            image(Some(7), Some("flatcar-stable")).describe(),
            "flatcar-stable (id 7)"
        );
        assert_eq!(image(Some(7), None).describe(), "id 7");
        assert_eq!(image(None, None).describe(), "unknown");
        let droplet: Droplet = serde_json::from_value(serde_json::json!({
            "id": 1, "name": "n", "status": "new", "region": { "slug": "fra1" },
            "image": {},
        }))
        .expect("a droplet whose image has no fields");
        assert_eq!(droplet.image, Some(DropletImage::default()));
    }

    #[test]
    fn image_refs_parse() {
        assert_eq!(ImageRef::parse("12345"), ImageRef::Id(12345));
        assert_eq!(
            ImageRef::parse("ubuntu-24-04-x64"),
            ImageRef::Slug("ubuntu-24-04-x64".into())
        );
    }
}
