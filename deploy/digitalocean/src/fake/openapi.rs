//! The published API description, as the fake's referee.
//!
//! Loads `digitalocean-openapi-subset.json` (OpenAPI 3.0, every `$ref` resolved), finds the
//! operation for a request path, and checks request bodies, query and path parameters and
//! response bodies against their schemas with the `jsonschema` crate. OpenAPI 3.0 schemas
//! are not quite JSON Schema: `nullable: true` becomes a `null` type, and annotation-only
//! keywords (`example`, `discriminator`, ...) are dropped before compiling.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value};

/// The reference file, relative to this crate.
pub const DEFAULT_SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/digitalocean-openapi-subset.json"
);

/// Why the API description cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("failed to read the API description `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON with `paths`.
    #[error("`{path}` is not an OpenAPI description: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A loaded API description with compiled validators, cached per schema.
#[derive(Debug)]
pub struct Spec {
    paths: Map<String, Value>,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

/// An operation matched to a request.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Path template (`/v2/droplets/{droplet_id}`).
    pub template: String,
    /// Path parameters by name.
    pub params: HashMap<String, String>,
    operation: Value,
}

impl Spec {
    /// Loads the description at `path`, once per process per path.
    pub fn load(path: &Path) -> Result<Arc<Spec>, SpecError> {
        static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Spec>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(spec) = cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
        {
            return Ok(spec.clone());
        }

        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |reason: String| SpecError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let mut document: Value =
            serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let Some(Value::Object(paths)) = document.get_mut("paths").map(Value::take) else {
            return Err(invalid("no `paths` object".into()));
        };

        let spec = Arc::new(Spec {
            paths,
            validators: Mutex::default(),
        });
        let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(cache.entry(path.to_owned()).or_insert(spec).clone())
    }

    /// The operation for `method` on `path`; literal segments beat parameters.
    pub fn operation(&self, method: &str, path: &str) -> Option<Operation> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let method = method.to_ascii_lowercase();
        let mut best: Option<(usize, Operation)> = None;

        for (template, item) in &self.paths {
            let Some(operation) = item.get(&method) else {
                continue;
            };
            let Some((literals, params)) = match_template(template, &segments) else {
                continue;
            };
            if best.as_ref().is_none_or(|(score, _)| literals > *score) {
                let operation = operation.clone();
                best = Some((
                    literals,
                    Operation {
                        template: template.clone(),
                        params,
                        operation,
                    },
                ));
            }
        }
        best.map(|(_, operation)| operation)
    }

    /// Problems with a request's parameters and body (empty when it conforms).
    pub fn check_request(
        &self,
        op: &Operation,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let declared = op.operation.get("parameters").and_then(Value::as_array);
        for param in declared.into_iter().flatten() {
            problems.extend(self.check_parameter(op, param, query));
        }
        for (name, _) in query {
            let known = declared.into_iter().flatten().any(|p| {
                p.get("in").and_then(Value::as_str) == Some("query")
                    && p.get("name").and_then(Value::as_str) == Some(name)
            });
            if !known {
                problems.push(format!(
                    "query parameter `{name}` is not in the API description"
                ));
            }
        }

        let schema = op
            .operation
            .pointer("/requestBody/content/application~1json/schema");
        let required = op
            .operation
            .pointer("/requestBody/required")
            .and_then(Value::as_bool);
        match (schema, body) {
            (Some(schema), Some(body)) => {
                let key = format!("{} {} request", op.template, method_of(op));
                problems.extend(
                    self.validate(&key, schema, body)
                        .into_iter()
                        .map(|e| format!("request body: {e}")),
                );
            }
            (Some(_), None) if required == Some(true) => {
                problems.push("request body missing".into())
            }
            (None, Some(_)) => {
                problems.push("request body sent to an operation without one".into())
            }
            _ => {}
        }
        problems
    }

    /// Problems with a response (empty when it conforms to the declared one).
    pub fn check_response(&self, op: &Operation, status: u16, body: Option<&Value>) -> Vec<String> {
        let responses = op.operation.get("responses");
        let response = responses
            .and_then(|r| r.get(status.to_string()))
            .or_else(|| responses.and_then(|r| r.get("default")));
        let Some(response) = response else {
            return vec![format!("status {status} is not declared")];
        };

        let schema = response.pointer("/content/application~1json/schema");
        match (schema, body) {
            (Some(schema), Some(body)) => {
                let key = format!("{} {} {status}", op.template, method_of(op));
                self.validate(&key, schema, body)
                    .into_iter()
                    .map(|e| format!("response {status}: {e}"))
                    .collect()
            }
            (Some(_), None) => vec![format!("response {status} has no body but declares one")],
            (None, Some(_)) => vec![format!("response {status} has a body but declares none")],
            (None, None) => Vec::new(),
        }
    }

    fn check_parameter(
        &self,
        op: &Operation,
        param: &Value,
        query: &[(String, String)],
    ) -> Vec<String> {
        let name = param
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let location = param.get("in").and_then(Value::as_str).unwrap_or_default();
        let required = param
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let value = match location {
            "path" => op.params.get(name).cloned(),
            "query" => query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
            _ => return Vec::new(),
        };
        let Some(value) = value else {
            return if required {
                vec![format!("required {location} parameter `{name}` missing")]
            } else {
                Vec::new()
            };
        };

        let schema = param.get("schema").cloned().unwrap_or(Value::Bool(true));
        let typed = typed_parameter(&schema, &value);
        let key = format!("{} {} param {name}", op.template, method_of(op));
        self.validate(&key, &schema, &typed)
            .into_iter()
            .map(|e| format!("{location} parameter `{name}`=`{value}`: {e}"))
            .collect()
    }

    /// Validates `instance` against an OpenAPI schema, compiling it once per `key`.
    fn validate(&self, key: &str, schema: &Value, instance: &Value) -> Vec<String> {
        let validator = {
            let mut cache = self
                .validators
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match cache.get(key) {
                Some(v) => v.clone(),
                None => match compile(schema) {
                    Ok(v) => cache.entry(key.to_owned()).or_insert(Arc::new(v)).clone(),
                    Err(e) => return vec![format!("schema does not compile: {e}")],
                },
            }
        };
        validator
            .iter_errors(instance)
            .map(|e| format!("{e} (at `{}`)", e.instance_path))
            .collect()
    }
}

fn method_of(op: &Operation) -> &str {
    op.operation
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or("?")
}

/// Literal-segment count and path parameters, if `template` matches.
fn match_template(template: &str, segments: &[&str]) -> Option<(usize, HashMap<String, String>)> {
    let parts: Vec<&str> = template.split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut literals = 0;
    let mut params = HashMap::new();
    for (part, segment) in parts.iter().zip(segments) {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if segment.is_empty() {
                return None;
            }
            params.insert(name.to_owned(), percent_decode(segment));
        } else if part == segment {
            literals += 1;
        } else {
            return None;
        }
    }
    Some((literals, params))
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A query or path value typed per its schema (`"20"` → 20 for an integer parameter).
fn typed_parameter(schema: &Value, value: &str) -> Value {
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        _ => schema
            .get("anyOf")
            .and_then(Value::as_array)
            .map(|alts| {
                alts.iter()
                    .filter_map(|a| a.get("type")?.as_str())
                    .collect()
            })
            .unwrap_or_default(),
    };
    if types.contains(&"integer") {
        if let Ok(n) = value.parse::<i64>() {
            return Value::from(n);
        }
    }
    if types.contains(&"boolean") {
        if let Ok(b) = value.parse::<bool>() {
            return Value::Bool(b);
        }
    }
    Value::String(value.to_owned())
}

/// Compiles as draft 7 with formats checked: OpenAPI 3.0's schema dialect descends from
/// the drafts of that era, and draft 7's format checks (date-time, ipv4, ipv6, uri) compile
/// several times faster than 2020-12's in debug builds, which keeps first requests quick.
fn compile(schema: &Value) -> Result<Validator, String> {
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(true)
        .build(&to_json_schema(schema))
        .map_err(|e| e.to_string())
}

/// Converts an OpenAPI 3.0 schema object into JSON Schema (draft 7).
pub fn to_json_schema(schema: &Value) -> Value {
    let Value::Object(object) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in object {
        let converted = match key.as_str() {
            "example" | "examples" | "discriminator" | "xml" | "externalDocs" | "nullable" => {
                continue
            }
            "properties" => match value {
                Value::Object(props) => Value::Object(
                    props
                        .iter()
                        .map(|(k, v)| (k.clone(), to_json_schema(v)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "items" | "additionalProperties" | "not" => to_json_schema(value),
            "allOf" | "anyOf" | "oneOf" => match value {
                Value::Array(list) => Value::Array(list.iter().map(to_json_schema).collect()),
                other => other.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }

    if object.get("nullable") == Some(&Value::Bool(true)) {
        return make_nullable(out);
    }
    Value::Object(out)
}

fn make_nullable(mut out: Map<String, Value>) -> Value {
    if let Some(Value::Array(values)) = out.get_mut("enum") {
        values.push(Value::Null);
    }
    match out.get("type").cloned() {
        Some(Value::String(t)) => {
            out.insert(
                "type".into(),
                Value::Array(vec![Value::String(t), "null".into()]),
            );
            Value::Object(out)
        }
        _ => serde_json::json!({ "anyOf": [{ "type": "null" }, Value::Object(out)] }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nullable_becomes_a_null_type() {
        let schema = json!({"type": "string", "nullable": true, "example": "x"});
        assert_eq!(to_json_schema(&schema), json!({"type": ["string", "null"]}));
        let nested = json!({"properties": {"a": {"type": "integer", "nullable": true}}});
        assert_eq!(
            to_json_schema(&nested),
            json!({"properties": {"a": {"type": ["integer", "null"]}}})
        );
    }

    #[test]
    fn templates_prefer_literal_segments() {
        let segments: Vec<&str> = "/v2/droplets/actions".split('/').collect();
        let (literal, _) = match_template("/v2/droplets/actions", &segments).unwrap();
        let (param, params) = match_template("/v2/droplets/{droplet_id}", &segments).unwrap();
        assert!(literal > param);
        assert_eq!(params["droplet_id"], "actions");
    }
}
