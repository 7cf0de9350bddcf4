//! SSH keys on the account, and resolving what a user typed to key ids.
//!
//! `--ssh-key` takes an id, a fingerprint or a key name. The account-keys endpoint allows
//! only 10 calls a minute, so [`KeyResolver`] fetches the list at most once per run and
//! answers every lookup from that copy. A key that is not on the account is an error that
//! lists the keys that are.

use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::client::Client;
use crate::error::DoError;

/// An SSH public key registered on the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshKey {
    /// Numeric id.
    pub id: u64,
    /// MD5 fingerprint (`aa:bb:...`).
    pub fingerprint: String,
    /// Display name.
    pub name: String,
    /// The public key.
    pub public_key: String,
}

impl Client {
    /// All SSH keys on the account. Prefer [`KeyResolver`], which calls this once.
    pub async fn list_ssh_keys(&self) -> Result<Vec<SshKey>, DoError> {
        self.list_all("v2/account/keys", &[], "ssh_keys").await
    }
}

/// Resolves `--ssh-key` values, fetching the account's keys at most once.
#[derive(Debug, Default)]
pub struct KeyResolver {
    keys: OnceCell<Vec<SshKey>>,
}

impl KeyResolver {
    /// A resolver with nothing fetched yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The account's keys (fetched on first use).
    pub async fn keys(&self, client: &Client) -> Result<&[SshKey], DoError> {
        let keys = self.keys.get_or_try_init(|| client.list_ssh_keys()).await?;
        Ok(keys)
    }

    /// The ids of `wanted` (ids, fingerprints or names), in order, without duplicates.
    /// Makes no call when `wanted` is empty.
    pub async fn resolve(&self, client: &Client, wanted: &[String]) -> Result<Vec<u64>, DoError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.keys(client).await?;

        let mut ids = Vec::with_capacity(wanted.len());
        for spec in wanted {
            let key = find_key(keys, spec).ok_or_else(|| DoError::UnknownSshKey {
                key: spec.clone(),
                available: describe_keys(keys),
            })?;
            if !ids.contains(&key.id) {
                ids.push(key.id);
            }
        }
        Ok(ids)
    }
}

/// Matches by id, then fingerprint, then exact name.
fn find_key<'a>(keys: &'a [SshKey], spec: &str) -> Option<&'a SshKey> {
    let spec = spec.trim();
    let by_id = spec
        .parse::<u64>()
        .ok()
        .and_then(|id| keys.iter().find(|k| k.id == id));
    by_id
        .or_else(|| {
            keys.iter()
                .find(|k| k.fingerprint.eq_ignore_ascii_case(spec))
        })
        .or_else(|| keys.iter().find(|k| k.name == spec))
}

/// One line per key, for error messages.
fn describe_keys(keys: &[SshKey]) -> String {
    if keys.is_empty() {
        return "  (none; add one under Settings → Security in the control panel)".to_owned();
    }
    let lines: Vec<String> = keys
        .iter()
        .map(|k| format!("  {}  {}  {}", k.id, k.fingerprint, k.name))
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u64, name: &str) -> SshKey {
        SshKey {
            id,
            fingerprint: format!("3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:{id:02x}"),
            name: name.to_owned(),
            public_key: "ssh-ed25519 AAAA test".to_owned(),
        }
    }

    #[test]
    fn keys_match_by_id_fingerprint_or_name() {
        let keys = [key(1, "laptop"), key(2, "ci")];
        assert_eq!(find_key(&keys, "2").map(|k| k.id), Some(2));
        assert_eq!(
            find_key(&keys, &keys[0].fingerprint.to_uppercase()).map(|k| k.id),
            Some(1)
        );
        assert_eq!(find_key(&keys, "ci").map(|k| k.id), Some(2));
        assert!(find_key(&keys, "desktop").is_none());
        assert!(describe_keys(&keys).contains("laptop"));
    }
}
