//! The model options every llama guest accepts, and the metadata JSON they become.
//!
//! Only options given on the command line go into the JSON, so the host's defaults (and the
//! model's) apply to everything else.

use serde_json::{Map, Value};

/// Model and sampling options, in the spirit of LlamaEdge's flags.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ModelOptions {
    /// Alias of a model the host preloaded (`--nn-preload ALIAS:GGML:AUTO:PATH`).
    #[arg(short = 'a', long, default_value = "default")]
    pub model_alias: String,

    /// Size of the context window in tokens.
    #[arg(short = 'c', long, value_parser = clap::value_parser!(u32).range(1..))]
    pub ctx_size: Option<u32>,

    /// Tokens to generate at most (-1: until end of sequence, -2: until the context is full).
    #[arg(
        short = 'n',
        long,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i32).range(-2..)
    )]
    pub n_predict: Option<i32>,

    /// Sampling temperature (0 picks the most likely token every time).
    #[arg(long, value_parser = non_negative)]
    pub temp: Option<f64>,

    /// Nucleus sampling: keep the most likely tokens up to this total probability.
    #[arg(long, value_parser = non_negative)]
    pub top_p: Option<f64>,

    /// Penalty for repeating tokens (1.0: none).
    #[arg(long, value_parser = non_negative)]
    pub repeat_penalty: Option<f64>,

    /// Seed of the sampler's random numbers.
    #[arg(long)]
    pub seed: Option<u32>,

    /// CPU threads the host uses for this model.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,

    /// Stop generating when the model writes this text.
    #[arg(short = 'r', long)]
    pub reverse_prompt: Option<String>,
}

impl ModelOptions {
    /// Options with every value left to the host, for the model `alias`.
    pub fn for_alias(alias: impl Into<String>) -> Self {
        Self {
            model_alias: alias.into(),
            ctx_size: None,
            n_predict: None,
            temp: None,
            top_p: None,
            repeat_penalty: None,
            seed: None,
            threads: None,
            reverse_prompt: None,
        }
    }

    /// The WASI-NN GGML metadata JSON object, with the keys the host documents
    /// (`ctx-size`, `n-predict`, `temp`, ...) for the options that were given.
    pub fn metadata(&self) -> Value {
        let mut map = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                map.insert(key.to_owned(), value);
            }
        };
        put("ctx-size", self.ctx_size.map(Value::from));
        put("n-predict", self.n_predict.map(Value::from));
        put("temp", self.temp.map(Value::from));
        put("top-p", self.top_p.map(Value::from));
        put("repeat-penalty", self.repeat_penalty.map(Value::from));
        put("seed", self.seed.map(Value::from));
        put("threads", self.threads.map(Value::from));
        put(
            "reverse-prompt",
            self.reverse_prompt.clone().map(Value::from),
        );
        Value::Object(map)
    }
}

/// Parses a finite number that is zero or more.
fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        Ok(_) => Err("must be a finite number, zero or more".to_owned()),
        Err(err) => Err(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        model: ModelOptions,
    }

    fn parse(args: &[&str]) -> Result<ModelOptions, clap::Error> {
        Cli::try_parse_from(std::iter::once("guest").chain(args.iter().copied()))
            .map(|cli| cli.model)
    }

    #[test]
    fn defaults_send_an_empty_object() {
        let options = parse(&[]).expect("no arguments are valid");
        assert_eq!(options, ModelOptions::for_alias("default"));
        assert_eq!(options.metadata(), json!({}));
    }

    #[test]
    fn every_option_becomes_its_metadata_key() {
        let options = parse(&[
            "--model-alias",
            "smol",
            "--ctx-size",
            "512",
            "--n-predict",
            "-1",
            "--temp",
            "0",
            "--top-p",
            "0.9",
            "--repeat-penalty",
            "1.1",
            "--seed",
            "42",
            "--threads",
            "2",
            "--reverse-prompt",
            "User:",
        ])
        .expect("valid options");
        assert_eq!(options.model_alias, "smol");
        assert_eq!(
            options.metadata(),
            json!({
                "ctx-size": 512, "n-predict": -1, "temp": 0.0, "top-p": 0.9,
                "repeat-penalty": 1.1, "seed": 42, "threads": 2, "reverse-prompt": "User:"
            })
        );
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for args in [
            &["--n-predict", "-3"][..],
            &["--ctx-size", "0"],
            &["--temp", "-0.5"],
            &["--top-p", "NaN"],
            &["--seed", "-1"],
            &["--threads", "many"],
        ] {
            assert!(parse(args).is_err(), "{args:?} should be refused");
        }
    }
}
