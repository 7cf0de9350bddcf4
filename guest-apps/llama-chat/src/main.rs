//! llama-chat: chat in the terminal with a model the host preloaded, keeping the history and
//! streaming the answers token by token.
//!
//! ```text
//! nnedge run --nn-preload default:GGML:AUTO:model.gguf llama-chat.wasm \
//!     [--prompt-template chatml] [--system-prompt TEXT] [--disable-stream] [model options]
//! ```
//!
//! Messages are read from stdin one per line until end of input or `/exit` (see [`chat`]).
//!
//! The prompt template is the one `--prompt-template` names, or else the family of the
//! model's own template (GGUF `tokenizer.chat_template`, which nnedge hands guests as output
//! index 2), or else `chatml` with a note on stderr (a model without a template, a template
//! of no known family, or a runtime without index 2).
//!
//! Exit codes: 0 the chat ended normally, 1 the model failed, 2 bad arguments.

mod chat;
mod history;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use chat_templates::ChatTemplate;
use clap::Parser;
use ggml_session::{ModelOptions, Session, SessionError, StreamEnd};

use crate::chat::{Answer, AnswerError, Answerer, Chat};
use crate::history::History;

/// Chats with a model the host preloaded.
#[derive(Debug, Parser)]
#[command(name = "llama-chat", version, about)]
struct Cli {
    /// Prompt template: chatml, llama-3-chat, llama-2-chat, mistral-instruct, phi-3-chat or
    /// gemma-instruct [default: the model's own, else chatml].
    #[arg(short = 'p', long)]
    prompt_template: Option<ChatTemplate>,

    /// System prompt that opens the conversation.
    #[arg(short = 's', long)]
    system_prompt: Option<String>,

    /// Print each answer when it is complete instead of token by token.
    #[arg(long)]
    disable_stream: bool,

    #[command(flatten)]
    model: ModelOptions,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("llama-chat: error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let session = Session::open(&cli.model)?;
    let template = cli
        .prompt_template
        .unwrap_or_else(|| template_of(session.model_chat_template().as_deref()));
    let model = ModelAnswerer {
        session,
        stream: !cli.disable_stream,
    };
    let history = History::new(cli.system_prompt);
    let interactive = std::io::stdin().is_terminal();

    let mut chat = Chat::new(model, template, history, interactive);
    chat.run(std::io::stdin().lock(), &mut std::io::stdout().lock())
}

/// The template for a model whose own Jinja template is `jinja`: its family, else chatml.
fn template_of(jinja: Option<&str>) -> ChatTemplate {
    let Some(jinja) = jinja else {
        eprintln!(
            "llama-chat: the model names no chat template; using chatml (see --prompt-template)"
        );
        return ChatTemplate::ChatMl;
    };
    ChatTemplate::from_model_template(jinja).unwrap_or_else(|| {
        eprintln!(
            "llama-chat: the model's chat template is of no family llama-chat knows; using \
             chatml (see --prompt-template)"
        );
        ChatTemplate::ChatMl
    })
}

/// Answers prompts with the preloaded model, streamed or whole.
#[derive(Debug)]
struct ModelAnswerer {
    session: Session,
    stream: bool,
}

impl Answerer for ModelAnswerer {
    fn answer(&mut self, prompt: &str, out: &mut dyn Write) -> Result<Answer, AnswerError> {
        if !self.stream {
            let (text, end) = self.session.generate(prompt).map_err(session_error)?;
            write_piece(out, &text).map_err(AnswerError::Failed)?;
            return Ok(Answer {
                text,
                cut_short: end == StreamEnd::ContextFull,
            });
        }

        let mut text = Vec::new();
        let end = self
            .session
            .stream(prompt, |piece| {
                text.extend_from_slice(piece);
                write_piece(out, piece)
            })
            .map_err(session_error)?
            .map_err(AnswerError::Failed)?;
        Ok(Answer {
            text,
            cut_short: end == StreamEnd::ContextFull,
        })
    }
}

fn write_piece(out: &mut dyn Write, piece: &[u8]) -> anyhow::Result<()> {
    out.write_all(piece)
        .and_then(|()| out.flush())
        .context("failed to write to stdout")
}

fn session_error(err: SessionError) -> AnswerError {
    match err {
        SessionError::PromptTooLong => AnswerError::PromptTooLong,
        err => AnswerError::Failed(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_the_models_template_and_streaming() {
        let cli = Cli::try_parse_from(["llama-chat"]).expect("no arguments are valid");
        assert_eq!(cli.prompt_template, None);
        let llama3 = "{{ '<|start_header_id|>' + m['role'] }}";
        assert_eq!(template_of(Some(llama3)), ChatTemplate::Llama3Chat);
        assert_eq!(template_of(Some("{{ m }}")), ChatTemplate::ChatMl);
        assert_eq!(template_of(None), ChatTemplate::ChatMl);
        assert!(!cli.disable_stream);
        assert_eq!(cli.system_prompt, None);
    }

    #[test]
    fn takes_llamaedge_style_flags() {
        let cli = Cli::try_parse_from([
            "llama-chat",
            "-p",
            "llama-3-chat",
            "-s",
            "Be brief.",
            "--disable-stream",
            "--top-p",
            "0.9",
            "--repeat-penalty",
            "1.1",
            "-r",
            "User:",
            "-c",
            "1024",
        ])
        .expect("valid arguments");
        assert_eq!(cli.prompt_template, Some(ChatTemplate::Llama3Chat));
        assert_eq!(cli.system_prompt.as_deref(), Some("Be brief."));
        assert!(cli.disable_stream);
        assert_eq!(cli.model.reverse_prompt.as_deref(), Some("User:"));
        assert_eq!(cli.model.ctx_size, Some(1024));
    }

    #[test]
    fn an_unknown_template_is_a_usage_error() {
        let err = Cli::try_parse_from(["llama-chat", "-p", "vicuna"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(err.to_string().contains("gemma-instruct"), "{err}");
    }
}
