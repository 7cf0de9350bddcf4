//! The 64 KiB user-data limit and the `ignition.config.replace` pointer config.

use nnedge_ignition::ignition::Config;
use nnedge_ignition::{
    check_user_data, pointer_config, render_butane, render_node_json, ButaneVersion, IgnitionError,
    RenderOptions, USER_DATA_LIMIT,
};
use sha2::{Digest, Sha512};

use crate::node::nnedge_args;
use crate::schema::assert_valid;

#[test]
fn node_config_fits_into_user_data() {
    let json = render_node_json(&nnedge_args(&[
        "--sysupdate",
        "--api-key",
        "0123456789abcdef",
    ]))
    .expect("renders");
    assert!(json.len() < USER_DATA_LIMIT / 4, "{} bytes", json.len());
    assert!(check_user_data(&json).is_ok());
}

/// Incompressible inline contents over 64 KiB: the size check fails and says what to do.
#[test]
fn oversized_config_is_refused_with_advice() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: String = (0..60_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'!' + (state % 90) as u8)
        })
        .collect();
    let source = format!(
        "variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/big\n      contents:\n        inline: {}\n",
        serde_json::to_string(&noise).expect("quotes")
    );
    let json = render_butane(&source, &RenderOptions::default())
        .expect("renders")
        .to_json(false);
    assert!(json.len() > USER_DATA_LIMIT);
    let error = check_user_data(&json).err();
    assert!(matches!(
        error,
        Some(IgnitionError::UserDataTooLarge {
            limit: USER_DATA_LIMIT,
            ..
        })
    ));
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("ignition.config.replace") && message.contains("--pointer-url"),
        "{message}"
    );

    // exactly at the limit is accepted
    assert!(check_user_data(&"x".repeat(USER_DATA_LIMIT)).is_ok());
    assert!(check_user_data(&"x".repeat(USER_DATA_LIMIT + 1)).is_err());
}

#[test]
fn pointer_config_replaces_with_the_hashed_full_config() {
    let full = render_node_json(&nnedge_args(&[])).expect("renders");
    for version in [ButaneVersion::V1_0, ButaneVersion::V1_1] {
        let pointer = pointer_config(&full, "https://configs.example.test/node.ign", version)
            .expect("pointer");
        assert_valid(&pointer);
        assert!(check_user_data(&pointer).is_ok());
        let config: Config = serde_json::from_str(&pointer).expect("parses");
        assert_eq!(config.ignition.version, version.ignition_version());
        let replace = config
            .ignition
            .config
            .and_then(|c| c.replace)
            .expect("replace");
        assert_eq!(
            replace.source.as_deref(),
            Some("https://configs.example.test/node.ign")
        );
        let expected = format!("sha512-{}", hex::encode(Sha512::digest(full.as_bytes())));
        assert_eq!(replace.verification.hash, Some(expected));
        assert!(config.storage.is_none() && config.systemd.is_none());
    }
    insta::assert_snapshot!(
        "pointer_config",
        pointer_config(
            "{}",
            "https://configs.example.test/node.ign",
            ButaneVersion::V1_0
        )
        .expect("pointer")
    );
}

#[test]
fn pointer_config_needs_an_http_url() {
    let error = pointer_config("{}", "file:///tmp/node.ign", ButaneVersion::V1_0).err();
    assert!(
        matches!(
            error,
            Some(IgnitionError::InvalidFlag {
                flag: "pointer-url",
                ..
            })
        ),
        "{error:?}"
    );
}
