//! Regions and tags: the read-only look-ups the deploy flow checks before creating.

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::DoError;

/// A datacenter region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// Slug (`fra1`).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Size slugs offered here.
    #[serde(default)]
    pub sizes: Vec<String>,
    /// Whether new resources can be created here.
    pub available: bool,
}

/// A tag and how many resources carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Tag name.
    pub name: String,
    /// Counts per resource kind.
    #[serde(default)]
    pub resources: TagResources,
}

/// Resource counts of a tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagResources {
    /// Everything tagged.
    #[serde(default)]
    pub count: u64,
}

#[derive(Deserialize)]
struct TagEnvelope {
    tag: Tag,
}

impl Client {
    /// Every region.
    pub async fn list_regions(&self) -> Result<Vec<Region>, DoError> {
        self.list_all("v2/regions", &[], "regions").await
    }

    /// Every tag.
    pub async fn list_tags(&self) -> Result<Vec<Tag>, DoError> {
        self.list_all("v2/tags", &[], "tags").await
    }

    /// One tag, or `None` if it does not exist.
    pub async fn get_tag(&self, name: &str) -> Result<Option<Tag>, DoError> {
        match self
            .get::<TagEnvelope>(self.url_segments(&["v2", "tags", name])?)
            .await
        {
            Ok(envelope) => Ok(Some(envelope.tag)),
            Err(DoError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
