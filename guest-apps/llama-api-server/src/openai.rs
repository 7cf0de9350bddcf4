//! OpenAI request bodies and their translation into generation jobs.
//!
//! Chat and text completion requests become a [`GenerationSpec`]: the prompts to run (one
//! per choice), the stop strings, the token limit and the WASI-NN metadata JSON that the
//! server sets as input index 1 before each generation. Every sampling key is sent on every
//! request, so nothing leaks from one request to the next through a reused context.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::templates::{Message, Role};

/// Which endpoint a generation answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v1/chat/completions`.
    Chat,
    /// `/v1/completions`.
    Completion,
}

/// A validated generation request.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerationSpec {
    /// The endpoint, which decides the response shape.
    pub endpoint: Endpoint,
    /// The model name to report.
    pub model: String,
    /// Prompts to complete, one choice each.
    pub prompts: Vec<String>,
    /// Whether to answer with server-sent events.
    pub stream: bool,
    /// Whether a streamed answer ends with a usage chunk.
    pub include_usage: bool,
    /// Stop strings the output is cut at: the request's, then for chat the template's turn
    /// markers (so a model that prints one does not run on into a made-up next turn).
    pub stops: Vec<String>,
    /// The token limit (`None`: until end of sequence or context).
    pub max_tokens: Option<u64>,
    /// Metadata JSON for WASI-NN input index 1.
    pub metadata: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

/// Fields chat and text completions share.
#[derive(Debug, Deserialize)]
struct Common {
    model: Option<String>,
    max_tokens: Option<i64>,
    max_completion_tokens: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    presence_penalty: Option<f64>,
    frequency_penalty: Option<f64>,
    stop: Option<OneOrMany>,
    seed: Option<i64>,
    n: Option<i64>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    response_format: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ChatRequest {
    messages: Vec<ChatMessage>,
    #[serde(flatten)]
    common: Common,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct CompletionRequest {
    prompt: Value,
    #[serde(flatten)]
    common: Common,
}

#[derive(Debug, Deserialize)]
struct EmbeddingRequest {
    model: Option<String>,
    input: Value,
    encoding_format: Option<String>,
}

/// A validated embeddings request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddingSpec {
    /// The model name requested, if any.
    pub model: Option<String>,
    /// Texts to embed.
    pub inputs: Vec<String>,
    /// Whether vectors are returned base64-encoded (little-endian f32) instead of as numbers.
    pub base64: bool,
}

/// Parses a JSON body into `T`, with OpenAI-style 400 errors.
fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid_with_code(
            "invalid_json",
            format!("request body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid("request body must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("invalid request: {e}")))
}

/// The model a request asked for, if given.
pub fn requested_model(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("model")?.as_str().map(str::to_owned)
}

/// Validates a chat completion request.
pub fn chat_request(body: &[u8], config: &ServerConfig) -> Result<GenerationSpec, ApiError> {
    let request: ChatRequest = parse_body(body)?;
    if request.messages.is_empty() {
        return Err(ApiError::invalid(
            "`messages` must contain at least one message",
        ));
    }
    let messages = request
        .messages
        .into_iter()
        .map(message)
        .collect::<Result<Vec<_>, _>>()?;
    let prompt = config.template.render(&messages).map_err(|error| {
        ApiError::invalid(format!(
            "cannot render `messages` with the {} template: {error}",
            config.template.name()
        ))
    })?;
    let mut spec = spec(Endpoint::Chat, vec![prompt], request.common, config)?;
    for marker in config.template.turn_markers() {
        if !spec.stops.iter().any(|stop| stop == marker) {
            spec.stops.push((*marker).to_owned());
        }
    }
    Ok(spec)
}

/// Validates a text completion request.
pub fn completion_request(body: &[u8], config: &ServerConfig) -> Result<GenerationSpec, ApiError> {
    let request: CompletionRequest = parse_body(body)?;
    let prompts = strings(request.prompt, "prompt")?;
    spec(Endpoint::Completion, prompts, request.common, config)
}

/// Validates an embeddings request.
pub fn embedding_request(body: &[u8]) -> Result<EmbeddingSpec, ApiError> {
    let request: EmbeddingRequest = parse_body(body)?;
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "`encoding_format` `{other}` is not supported; use float or base64"
            )))
        }
    };
    Ok(EmbeddingSpec {
        model: request.model,
        inputs: strings(request.input, "input")?,
        base64,
    })
}

/// A non-empty string or a non-empty array of non-empty strings; token arrays are not
/// supported.
fn strings(value: Value, field: &str) -> Result<Vec<String>, ApiError> {
    let unsupported =
        || ApiError::invalid(format!("`{field}` must be a string or an array of strings"));
    let list = match value {
        Value::String(s) => vec![s],
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                _ => Err(unsupported()),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(unsupported()),
    };
    if list.is_empty() {
        return Err(ApiError::invalid(format!("`{field}` must not be empty")));
    }
    if let Some(index) = list.iter().position(String::is_empty) {
        let which = if list.len() == 1 {
            format!("`{field}`")
        } else {
            format!("`{field}[{index}]`")
        };
        return Err(ApiError::invalid(format!(
            "{which} is empty; give at least one character of text"
        )));
    }
    Ok(list)
}

fn message(message: ChatMessage) -> Result<Message, ApiError> {
    let role = match message.role.as_str() {
        "system" | "developer" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        other => {
            return Err(ApiError::invalid(format!(
                "message role `{other}` is not supported; use system, user or assistant"
            )))
        }
    };
    let content = match message.content {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text,
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|part| {
                match (
                    part.get("type").and_then(Value::as_str),
                    part.get("text").and_then(Value::as_str),
                ) {
                    (Some("text"), Some(text)) => Ok(text),
                    _ => Err(ApiError::invalid("only text content parts are supported")),
                }
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(""),
        Some(_) => {
            return Err(ApiError::invalid(
                "message `content` must be a string or an array of parts",
            ))
        }
    };
    Ok(Message { role, content })
}

fn spec(
    endpoint: Endpoint,
    prompts: Vec<String>,
    common: Common,
    config: &ServerConfig,
) -> Result<GenerationSpec, ApiError> {
    if let Some(n) = common.n.filter(|&n| n != 1) {
        return Err(ApiError::invalid_with_code(
            "unsupported_parameter",
            format!("`n` = {n} is not supported; this server returns exactly one choice (n = 1)"),
        ));
    }
    let limit = common.max_completion_tokens.or(common.max_tokens);
    let max_tokens = match limit {
        Some(n) if n < 0 => return Err(ApiError::invalid("`max_tokens` must not be negative")),
        Some(n) => Some(n.unsigned_abs()),
        None => u64::try_from(config.n_predict).ok(),
    };
    let mut metadata = sampling(&common, config, max_tokens)?;
    response_format(common.response_format.as_ref(), &mut metadata)?;

    let model = common.model.unwrap_or_else(|| config.chat.name.clone());
    let stream = common.stream.unwrap_or(false);
    let include_usage = stream
        && common
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
    let stops = common.stop.map(OneOrMany::into_vec).unwrap_or_default();
    if stops.len() > 4 {
        return Err(ApiError::invalid("`stop` takes at most 4 sequences"));
    }
    let metadata = Value::Object(metadata).to_string();
    Ok(GenerationSpec {
        endpoint,
        model,
        prompts,
        stream,
        include_usage,
        stops,
        max_tokens,
        metadata,
    })
}

fn sampling(
    common: &Common,
    config: &ServerConfig,
    max_tokens: Option<u64>,
) -> Result<Map<String, Value>, ApiError> {
    let defaults = config.sampling;
    let temperature = common.temperature.unwrap_or(defaults.temp);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(ApiError::invalid("`temperature` must be between 0 and 2"));
    }
    let top_p = common.top_p.unwrap_or(defaults.top_p);
    if !(0.0..=1.0).contains(&top_p) {
        return Err(ApiError::invalid("`top_p` must be between 0 and 1"));
    }
    let penalty = |value: Option<f64>, default: f64, name: &str| {
        let value = value.unwrap_or(default);
        if (-2.0..=2.0).contains(&value) {
            Ok(value)
        } else {
            Err(ApiError::invalid(format!(
                "`{name}` must be between -2 and 2"
            )))
        }
    };
    let presence = penalty(
        common.presence_penalty,
        defaults.presence_penalty,
        "presence_penalty",
    )?;
    let frequency = penalty(
        common.frequency_penalty,
        defaults.frequency_penalty,
        "frequency_penalty",
    )?;
    // WASI-NN seeds are 32-bit; -1 asks the host for a random one.
    let seed = common
        .seed
        .map_or(-1, |s| i64::from(s as u32 & 0x7FFF_FFFF));

    let mut map = Map::new();
    map.insert(
        "n-predict".into(),
        json!(max_tokens.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))),
    );
    map.insert("temp".into(), json!(temperature));
    map.insert("top-p".into(), json!(top_p));
    map.insert("presence-penalty".into(), json!(presence));
    map.insert("frequency-penalty".into(), json!(frequency));
    map.insert("repeat-penalty".into(), json!(defaults.repeat_penalty));
    map.insert("seed".into(), json!(seed));
    map.insert(
        "reverse-prompt".into(),
        json!(config.reverse_prompt.clone().unwrap_or_default()),
    );
    Ok(map)
}

/// `response_format`: json_object and json_schema constrain the output with a grammar the
/// host derives from a JSON schema; text (or none) clears any grammar a reused context had.
fn response_format(
    format: Option<&Value>,
    metadata: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let kind = format
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("text");
    match kind {
        "text" => {
            metadata.insert("grammar".into(), json!(""));
        }
        "json_object" => {
            metadata.insert("json-schema".into(), json!({"type": "object"}));
        }
        "json_schema" => {
            let schema = format
                .and_then(|f| f.get("json_schema"))
                .and_then(|s| s.get("schema"))
                .ok_or_else(|| ApiError::invalid("`response_format.json_schema.schema` is required"))?;
            metadata.insert("json-schema".into(), schema.clone());
        }
        other => {
            return Err(ApiError::invalid(format!(
                "`response_format.type` `{other}` is not supported; use text, json_object or json_schema"
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Args;
    use clap::Parser;

    fn config() -> ServerConfig {
        ServerConfig::from_args(Args::parse_from(["x", "--temp", "0.7"]), None).unwrap()
    }

    fn metadata(spec: &GenerationSpec) -> Value {
        serde_json::from_str(&spec.metadata).unwrap()
    }

    #[test]
    fn chat_request_renders_the_template_and_maps_sampling() {
        let body = br#"{"model":"m","messages":[{"role":"system","content":"Be short."},
            {"role":"user","content":[{"type":"text","text":"Capital of "},{"type":"text","text":"Japan?"}]}],
            "max_tokens":5,"temperature":0,"seed":42,"stop":"\n","stream":true,
            "stream_options":{"include_usage":true}}"#;
        let spec = chat_request(body, &config()).unwrap();
        assert_eq!(spec.prompts.len(), 1);
        assert!(spec.prompts[0].contains("<|im_start|>user\nCapital of Japan?<|im_end|>"));
        assert_eq!(
            (spec.model.as_str(), spec.stream, spec.include_usage),
            ("m", true, true)
        );
        assert_eq!(spec.stops, ["\n", "<|im_start|>", "<|im_end|>"]);
        assert_eq!(spec.max_tokens, Some(5));
        let meta = metadata(&spec);
        assert_eq!(
            (
                meta["n-predict"].clone(),
                meta["temp"].clone(),
                meta["seed"].clone()
            ),
            (json!(5), json!(0.0), json!(42))
        );
        assert_eq!(
            meta["grammar"], "",
            "a plain request clears any earlier grammar"
        );
    }

    #[test]
    fn max_completion_tokens_wins_and_defaults_fill_in() {
        let body = br#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":9,"max_completion_tokens":3}"#;
        let spec = chat_request(body, &config()).unwrap();
        assert_eq!(spec.max_tokens, Some(3));
        assert_eq!(spec.model, "default");
        let meta = metadata(&spec);
        assert_eq!((meta["temp"].as_f64().unwrap() * 10.0).round(), 7.0);
        assert_eq!(meta["seed"], -1);
        let unlimited = chat_request(
            br#"{"messages":[{"role":"user","content":"hi"}]}"#,
            &config(),
        )
        .unwrap();
        assert_eq!(unlimited.max_tokens, None);
        assert_eq!(metadata(&unlimited)["n-predict"], -1);
    }

    #[test]
    fn n_other_than_one_is_400_saying_so() {
        let error = chat_request(
            br#"{"messages":[{"role":"user","content":"hi"}],"n":2}"#,
            &config(),
        )
        .unwrap_err();
        assert_eq!(error.status, 400);
        assert!(error.message.contains("`n` = 2"), "{}", error.message);
    }

    #[test]
    fn response_formats_become_schemas() {
        let object = chat_request(br#"{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}"#, &config()).unwrap();
        assert_eq!(metadata(&object)["json-schema"], json!({"type": "object"}));
        let schema = br#"{"messages":[{"role":"user","content":"hi"}],
            "response_format":{"type":"json_schema","json_schema":{"name":"c","schema":{"type":"object","properties":{"city":{"type":"string"}}}}}}"#;
        let spec = chat_request(schema, &config()).unwrap();
        assert_eq!(
            metadata(&spec)["json-schema"]["properties"]["city"]["type"],
            "string"
        );
        let bad = chat_request(
            br#"{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"yaml"}}"#,
            &config(),
        );
        assert_eq!(bad.unwrap_err().status, 400);
    }

    #[test]
    fn invalid_bodies_are_400() {
        for body in [
            &b"{not json"[..],
            b"[1]",
            br#"{"messages":[]}"#,
            br#"{"messages":[{"role":"tool","content":"x"}]}"#,
            br#"{"messages":[{"role":"user","content":"x"}],"temperature":3}"#,
            br#"{"messages":"hi"}"#,
        ] {
            let error = chat_request(body, &config()).unwrap_err();
            assert_eq!(error.status, 400, "{}", String::from_utf8_lossy(body));
        }
        assert_eq!(
            chat_request(b"{oops", &config()).unwrap_err().code,
            Some("invalid_json")
        );
    }

    #[test]
    fn completion_prompts_and_embedding_inputs() {
        let spec =
            completion_request(br#"{"prompt":["a","b"],"stop":["x","y"]}"#, &config()).unwrap();
        assert_eq!(
            (spec.endpoint, spec.prompts.len(), spec.stops.len()),
            (Endpoint::Completion, 2, 2)
        );
        assert!(completion_request(br#"{"prompt":[1,2]}"#, &config()).is_err());
        let embed = embedding_request(br#"{"input":"hello","encoding_format":"base64"}"#).unwrap();
        assert_eq!((embed.inputs.len(), embed.base64), (1, true));
        assert!(embedding_request(br#"{"input":[]}"#).is_err());
    }
}
