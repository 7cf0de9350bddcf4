//! The prompt template a server renders chat requests with.
//!
//! The six chat templates come from the shared `chat-templates` crate; this module adds
//! LlamaEdge's `embedding` name, which means "no chat format": the messages' texts joined by
//! newlines (for servers whose only model is an embedding model).
//!
//! The server uses the template `--prompt-template` names, else the family of the model's own
//! (GGUF `tokenizer.chat_template`, which nnedge hands guests as WASI-NN output index 2; see
//! [`crate::config::ServerConfig::adopt_model_template`]), else chatml.
//! No system prompt is injected: a conversation without a system message renders without one.

use std::str::FromStr;

pub use chat_templates::{ChatTemplate, Message, Role, TemplateError};

/// A chat template, or none (`embedding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptTemplate {
    /// One of the shared chat templates.
    Chat(ChatTemplate),
    /// No chat format: the messages' texts joined by newlines.
    Embedding,
}

/// A template name this server does not know.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown prompt template `{name}`; use one of chatml, llama-3-chat, llama-2-chat, \
     mistral-instruct, phi-3-chat, gemma-instruct, embedding"
)]
pub struct UnknownTemplate {
    /// The name given.
    pub name: String,
}

impl FromStr for PromptTemplate {
    type Err = UnknownTemplate;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name == "embedding" {
            return Ok(Self::Embedding);
        }
        name.parse().map(Self::Chat).map_err(|_| UnknownTemplate {
            name: name.to_owned(),
        })
    }
}

impl PromptTemplate {
    /// The default when `--prompt-template` is not given.
    pub const DEFAULT: Self = Self::Chat(ChatTemplate::ChatMl);

    /// The template's name, as `--prompt-template` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Chat(template) => template.name(),
            Self::Embedding => "embedding",
        }
    }

    /// The texts that start or end a turn, which end a chat reply (none for `embedding`).
    pub fn turn_markers(self) -> &'static [&'static str] {
        match self {
            Self::Chat(template) => template.turn_markers(),
            Self::Embedding => &[],
        }
    }

    /// The prompt for `messages`, ending where the assistant's reply begins.
    pub fn render(self, messages: &[Message]) -> Result<String, TemplateError> {
        match self {
            Self::Chat(template) => template.render(messages),
            Self::Embedding => Ok(messages
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>()
                .join("\n")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_llamaedge_name_parses_and_round_trips() {
        let names = [
            "chatml",
            "llama-3-chat",
            "llama-2-chat",
            "mistral-instruct",
            "phi-3-chat",
            "gemma-instruct",
            "embedding",
        ];
        for name in names {
            assert_eq!(name.parse::<PromptTemplate>().unwrap().name(), name);
        }
        assert!("vicuna".parse::<PromptTemplate>().is_err());
    }

    #[test]
    fn chatml_renders_without_an_injected_system_prompt() {
        let prompt = PromptTemplate::DEFAULT
            .render(&[Message::user("Hi")])
            .unwrap();
        assert_eq!(
            prompt,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn embedding_joins_the_texts() {
        let prompt = PromptTemplate::Embedding
            .render(&[Message::system("a"), Message::user("b")])
            .unwrap();
        assert_eq!(prompt, "a\nb");
    }
}
