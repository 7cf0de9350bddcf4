//! Validation of rendered configs against the official Ignition 3.3/3.4 JSON schemas.
//!
//! The schemas do not forbid unknown properties, so each config is also checked for
//! property names the schema never mentions (a misspelled or snake_case key would pass
//! the schema but be ignored by Ignition).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

/// `../shared/reference` next to the repository.
fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference")
}

fn load_schema(version: &str) -> Option<Value> {
    let file = format!("ignition-v{}.schema.json", version.replace('.', "_"));
    let text = std::fs::read_to_string(reference_dir().join(file)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The schema for `3.3` or `3.4`; `None` (after a skip message) if it is missing, which
/// fails when `CI` is set.
pub fn schema(version: &str) -> Option<&'static Value> {
    static V3_3: OnceLock<Option<Value>> = OnceLock::new();
    static V3_4: OnceLock<Option<Value>> = OnceLock::new();
    let cell = if version == "3.3" { &V3_3 } else { &V3_4 };
    let schema = cell.get_or_init(|| load_schema(version)).as_ref();
    if schema.is_none() {
        let message = format!(
            "ignition {version} schema missing under {:?}",
            reference_dir()
        );
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("skipping schema validation: {message}");
    }
    schema
}

/// Asserts that `json` is a valid Ignition config of the version it declares.
pub fn assert_valid(json: &str) {
    let config: Value = serde_json::from_str(json).expect("rendered config is JSON");
    let version = config["ignition"]["version"]
        .as_str()
        .expect("ignition.version is set");
    let short = &version[..3];
    assert!(
        ["3.3", "3.4"].contains(&short),
        "unexpected version {version}"
    );
    let Some(schema) = schema(short) else { return };

    let validator = jsonschema::validator_for(schema).expect("official schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&config)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "schema {version} rejects the config: {errors:#?}\n{json}"
    );

    let known = property_names(schema);
    let mut used = BTreeSet::new();
    collect_keys(&config, &mut used);
    let unknown: Vec<&String> = used.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "keys unknown to schema {version}: {unknown:?}"
    );
}

fn property_names(schema: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    walk_properties(schema, &mut names);
    names
}

fn walk_properties(value: &Value, names: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                names.extend(properties.keys().cloned());
            }
            map.values().for_each(|v| walk_properties(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| walk_properties(v, names)),
        _ => {}
    }
}

fn collect_keys(value: &Value, keys: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                keys.insert(key.clone());
                collect_keys(child, keys);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, keys)),
        _ => {}
    }
}

#[test]
fn schema_check_rejects_a_wrong_type() {
    let Some(schema) = schema("3.3") else { return };
    let bad = serde_json::json!({"ignition": {"version": "3.3.0"}, "storage": {"files": [{"path": "/a", "mode": "0644"}]}});
    let validator = jsonschema::validator_for(schema).expect("official schema compiles");
    assert!(!validator.is_valid(&bad), "a string mode must be rejected");
}

#[test]
fn key_check_flags_snake_case_keys() {
    let Some(schema) = schema("3.4") else { return };
    let config = serde_json::json!({"passwd": {"users": [{"ssh_authorized_keys": []}]}});
    let mut used = BTreeSet::new();
    collect_keys(&config, &mut used);
    assert!(!property_names(schema).contains("ssh_authorized_keys"));
    assert!(used.contains("ssh_authorized_keys"));
}
