//! Chat prompt templates for the nnedge guests.
//!
//! A chat model expects its conversation wrapped in the markers it was trained with. The
//! WASI-NN interface gives a guest no way to read the model's own template (the GGUF key
//! `tokenizer.chat_template` stays on the host), so a guest names the template explicitly:
//! [`ChatTemplate`] knows the common families by their LlamaEdge names (`chatml`,
//! `llama-3-chat`, ...), and [`ChatTemplate::render`] turns a list of [`Message`]s into the
//! prompt text, ending with the cue for the assistant's next reply.
//!
//! Rendered prompts never start with the beginning-of-sequence token: the host's tokenizer adds
//! it when the model asks for one (GGUF `tokenizer.ggml.add_bos_token`).

mod render;

use std::fmt;
use std::str::FromStr;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions for the assistant; at most one, first in the conversation.
    System,
    /// The person chatting.
    User,
    /// The model.
    Assistant,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        })
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// What it says.
    pub content: String,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// A prompt template family, named as LlamaEdge's `--prompt-template` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatTemplate {
    /// `<|im_start|>role ... <|im_end|>`: Qwen, SmolLM2, many fine-tunes.
    ChatMl,
    /// `<|start_header_id|>role<|end_header_id|> ... <|eot_id|>`: Llama 3.x.
    Llama3Chat,
    /// `[INST] <<SYS>> ... <</SYS>> ... [/INST]`: Llama 2 chat.
    Llama2Chat,
    /// `[INST] ... [/INST]` without a system role: Mistral instruct.
    MistralInstruct,
    /// `<|user|> ... <|end|>`: Phi-3.
    Phi3Chat,
    /// `<start_of_turn>user ... <end_of_turn>` without a system role: Gemma.
    GemmaInstruct,
}

impl ChatTemplate {
    /// Every template, in the order `--help` lists them.
    pub const ALL: [ChatTemplate; 6] = [
        ChatTemplate::ChatMl,
        ChatTemplate::Llama3Chat,
        ChatTemplate::Llama2Chat,
        ChatTemplate::MistralInstruct,
        ChatTemplate::Phi3Chat,
        ChatTemplate::GemmaInstruct,
    ];

    /// The template that renders prompts the way a model's own Jinja chat template (GGUF
    /// `tokenizer.chat_template`) does, recognised by the special tokens it uses; `None`
    /// when it is of no family this crate knows.
    pub fn from_model_template(jinja: &str) -> Option<Self> {
        let has = |marker: &str| jinja.contains(marker);
        if has("<|im_start|>") {
            Some(ChatTemplate::ChatMl)
        } else if has("<|start_header_id|>") {
            Some(ChatTemplate::Llama3Chat)
        } else if has("<start_of_turn>") {
            Some(ChatTemplate::GemmaInstruct)
        } else if has("<|user|>") && has("<|end|>") {
            Some(ChatTemplate::Phi3Chat)
        } else if has("<<SYS>>") {
            Some(ChatTemplate::Llama2Chat)
        } else if has("[INST]") {
            Some(ChatTemplate::MistralInstruct)
        } else {
            None
        }
    }

    /// The name `--prompt-template` accepts.
    pub fn name(self) -> &'static str {
        match self {
            ChatTemplate::ChatMl => "chatml",
            ChatTemplate::Llama3Chat => "llama-3-chat",
            ChatTemplate::Llama2Chat => "llama-2-chat",
            ChatTemplate::MistralInstruct => "mistral-instruct",
            ChatTemplate::Phi3Chat => "phi-3-chat",
            ChatTemplate::GemmaInstruct => "gemma-instruct",
        }
    }

    /// The text that ends an assistant turn in this template.
    ///
    /// Models normally end a turn with an end-of-generation token, which stops the host, but
    /// some print the marker as text; [`ChatTemplate::strip_reply`] cuts it off.
    pub fn end_of_turn(self) -> &'static str {
        match self {
            ChatTemplate::ChatMl => "<|im_end|>",
            ChatTemplate::Llama3Chat => "<|eot_id|>",
            ChatTemplate::Llama2Chat | ChatTemplate::MistralInstruct => "</s>",
            ChatTemplate::Phi3Chat => "<|end|>",
            ChatTemplate::GemmaInstruct => "<end_of_turn>",
        }
    }

    /// The texts that start or end a turn in this template.
    ///
    /// A reply never contains them, so a server can cut generated text at the first one:
    /// without that, a model that prints a marker as text runs on into a made-up next turn.
    pub fn turn_markers(self) -> &'static [&'static str] {
        match self {
            ChatTemplate::ChatMl => &["<|im_start|>", "<|im_end|>"],
            ChatTemplate::Llama3Chat => &["<|start_header_id|>", "<|eot_id|>"],
            ChatTemplate::Llama2Chat | ChatTemplate::MistralInstruct => &["[INST]", "</s>"],
            ChatTemplate::Phi3Chat => &["<|user|>", "<|assistant|>", "<|system|>", "<|end|>"],
            ChatTemplate::GemmaInstruct => &["<start_of_turn>", "<end_of_turn>"],
        }
    }

    /// The reply without anything from the first end-of-turn marker on, and without
    /// surrounding white space.
    pub fn strip_reply(self, reply: &str) -> String {
        let end = reply.find(self.end_of_turn()).unwrap_or(reply.len());
        reply[..end].trim().to_owned()
    }

    /// Renders a conversation as a prompt that asks the model for the next assistant turn.
    ///
    /// The conversation is an optional system message, then user and assistant messages
    /// alternating, ending with a user message.
    pub fn render(self, messages: &[Message]) -> Result<String, TemplateError> {
        let conversation = render::Conversation::parse(messages)?;
        Ok(render::render(self, &conversation))
    }
}

impl fmt::Display for ChatTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ChatTemplate {
    type Err = TemplateError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ChatTemplate::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| TemplateError::UnknownTemplate {
                name: name.to_owned(),
            })
    }
}

/// Why a conversation cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template name is not one of [`ChatTemplate::ALL`].
    #[error(
        "unknown prompt template `{name}`; known templates: chatml, llama-3-chat, \
         llama-2-chat, mistral-instruct, phi-3-chat, gemma-instruct"
    )]
    UnknownTemplate {
        /// The name given.
        name: String,
    },
    /// There is no user message to answer.
    #[error("the conversation has no user message to answer")]
    NoUserMessage,
    /// A message has a role that cannot come at its place.
    #[error("message {index} is a {role} message, expected a {expected} message")]
    OutOfOrder {
        /// The message's position, from 0.
        index: usize,
        /// Its role.
        role: Role,
        /// The role expected there.
        expected: Role,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_templates_are_recognised_by_their_markers() {
        let cases = [
            ("{{'<|im_start|>' + m['role']}}", Some(ChatTemplate::ChatMl)),
            (
                "<|start_header_id|>user<|end_header_id|>",
                Some(ChatTemplate::Llama3Chat),
            ),
            ("<start_of_turn>user\n", Some(ChatTemplate::GemmaInstruct)),
            ("<|user|>\n{{ m }}<|end|>", Some(ChatTemplate::Phi3Chat)),
            ("[INST] <<SYS>>\n", Some(ChatTemplate::Llama2Chat)),
            ("{{ '[INST] ' + m }}", Some(ChatTemplate::MistralInstruct)),
            ("{{ m['content'] }}", None),
        ];
        for (jinja, expected) in cases {
            assert_eq!(
                ChatTemplate::from_model_template(jinja),
                expected,
                "{jinja}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for template in ChatTemplate::ALL {
            assert_eq!(template.name().parse::<ChatTemplate>(), Ok(template));
            assert_eq!(template.to_string(), template.name());
        }
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = "vicuna".parse::<ChatTemplate>().unwrap_err();
        assert_eq!(
            err,
            TemplateError::UnknownTemplate {
                name: "vicuna".into()
            }
        );
        assert!(err.to_string().contains("llama-3-chat"), "{err}");
    }

    #[test]
    fn turn_markers_include_the_end_of_turn_and_appear_in_rendered_prompts() {
        let conversation = [
            Message::user("Hi"),
            Message::assistant("Hello!"),
            Message::user("Bye"),
        ];
        for template in ChatTemplate::ALL {
            let markers = template.turn_markers();
            assert!(markers.contains(&template.end_of_turn()), "{template}");
            let prompt = template.render(&conversation).unwrap();
            for marker in markers.iter().filter(|m| **m != "<|system|>") {
                assert!(
                    prompt.contains(marker),
                    "{template}: {marker} in {prompt:?}"
                );
            }
        }
    }

    #[test]
    fn strip_reply_cuts_at_the_end_of_turn_marker() {
        let reply = " Paris.<|im_end|>\n<|im_start|>user";
        assert_eq!(ChatTemplate::ChatMl.strip_reply(reply), "Paris.");
        assert_eq!(ChatTemplate::Phi3Chat.strip_reply("Rome\n"), "Rome");
    }
}
