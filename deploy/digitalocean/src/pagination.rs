//! Walking the API's paginated lists.
//!
//! List endpoints return at most `per_page` items and a `links.pages.next` URL. We ask for
//! the maximum page size ([`PER_PAGE`]) and follow `next` until it is absent. The link is
//! re-based onto the configured API URL (the API writes its public host into it), so a
//! proxy or fake in front of the API keeps working and the token never goes elsewhere.

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::{debug, warn};
use url::Url;

use crate::client::{display_path, Client};
use crate::error::DoError;

/// Items per page we ask for: the API's maximum.
pub const PER_PAGE: u32 = 200;

/// Safety stop for a server that keeps handing out new `next` links.
const MAX_PAGES: usize = 10_000;

impl Client {
    /// Every item under `key` across all pages of `path`.
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        key: &str,
    ) -> Result<Vec<T>, DoError> {
        let mut query = query.to_vec();
        query.push(("per_page", PER_PAGE.to_string()));
        let mut url = self.url(path, &query)?;
        let mut seen = HashSet::new();
        let mut items = Vec::new();

        loop {
            let page: Value = self.get(url.clone()).await?;
            items.extend(page_items(&page, key, &url)?);
            let Some(next) = page.pointer("/links/pages/next").and_then(Value::as_str) else {
                break;
            };

            let next = self.rebase(next, &url)?;
            if !seen.insert(next.to_string()) || seen.len() >= MAX_PAGES {
                warn!(link = %next, "pagination link repeats; stopping");
                break;
            }
            debug!(page = %display_path(&next), "following pagination link");
            url = next;
        }
        Ok(items)
    }

    /// The `next` link moved onto the configured base URL.
    fn rebase(&self, link: &str, current: &Url) -> Result<Url, DoError> {
        let bad = || DoError::OutsideApiUrl {
            url: link.to_owned(),
        };
        let parsed = current.join(link).map_err(|_| bad())?;
        let base = self.api_url();

        let mut rebased = if parsed.path().starts_with(base.path()) {
            let mut url = base.clone();
            url.set_path(parsed.path());
            url
        } else {
            base.join(parsed.path().trim_start_matches('/'))
                .map_err(|_| bad())?
        };
        rebased.set_query(parsed.query());
        Ok(rebased)
    }
}

fn page_items<T: DeserializeOwned>(page: &Value, key: &str, url: &Url) -> Result<Vec<T>, DoError> {
    let decode_error = |source| DoError::Decode {
        method: "GET".into(),
        path: display_path(url),
        source,
    };
    match page.get(key) {
        Some(items) => serde_json::from_value(items.clone()).map_err(decode_error),
        None => Err(decode_error(serde::de::Error::custom(format!(
            "no `{key}` list"
        )))),
    }
}
