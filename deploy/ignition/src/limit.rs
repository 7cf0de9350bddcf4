//! DigitalOcean's user-data size limit, and pointer configs for larger configs.
//!
//! A droplet accepts at most [`USER_DATA_LIMIT`] bytes of user data. A config that does
//! not fit is hosted elsewhere (HTTPS), and the droplet gets a small config whose
//! `ignition.config.replace` names the URL and the sha512 of the hosted file, so Ignition
//! fetches it and refuses anything else.

use sha2::{Digest, Sha512};

use crate::butane::ButaneVersion;
use crate::ignition::{Config, ConfigReferences, Ignition, Resource, Verification};
use crate::IgnitionError;

/// DigitalOcean's `user_data` limit in bytes (64 KiB).
///
/// The generated node config stays far below it (sysexts and the model are fetched by
/// URL, not embedded); configs with large `inline`/`local` contents may not.
pub const USER_DATA_LIMIT: usize = 64 * 1024;

/// Fails with [`IgnitionError::UserDataTooLarge`] (which says what to do) if `json`
/// does not fit into [`USER_DATA_LIMIT`].
pub fn check_user_data(json: &str) -> Result<(), IgnitionError> {
    if json.len() > USER_DATA_LIMIT {
        return Err(IgnitionError::UserDataTooLarge {
            size: json.len(),
            limit: USER_DATA_LIMIT,
        });
    }
    Ok(())
}

/// A compact config that replaces itself with `full_json` fetched from `url`.
///
/// The hosted file holds everything in the full config, API key included: serve it over
/// HTTPS from a location only the node can read, or remove it after the first boot.
pub fn pointer_config(
    full_json: &str,
    url: &str,
    version: ButaneVersion,
) -> Result<String, IgnitionError> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        let reason = format!("`{url}` is not an http(s) URL");
        return Err(IgnitionError::InvalidFlag {
            flag: "pointer-url",
            reason,
        });
    }
    let hash = format!(
        "sha512-{}",
        hex::encode(Sha512::digest(full_json.as_bytes()))
    );
    let replace = Resource {
        source: Some(url.to_owned()),
        verification: Verification { hash: Some(hash) },
        ..Resource::default()
    };
    let config = Config {
        ignition: Ignition {
            version: version.ignition_version().to_owned(),
            config: Some(ConfigReferences {
                merge: Vec::new(),
                replace: Some(replace),
            }),
            ..Ignition::default()
        },
        ..Config::default()
    };
    Ok(serde_json::to_string(&config).unwrap_or_default())
}
