//! Rendering: a conversation is first checked and split into an optional system prompt and
//! turns (a user message and, except for the last, the assistant's answer); each template then
//! wraps the turns in its own markers.

use crate::{ChatTemplate, Message, Role, TemplateError};

/// One exchange: what the user said and, for past turns, what the assistant answered.
#[derive(Debug)]
struct Turn<'a> {
    user: &'a str,
    assistant: Option<&'a str>,
}

/// A checked conversation; the last turn has no answer yet.
#[derive(Debug)]
pub(crate) struct Conversation<'a> {
    system: Option<&'a str>,
    turns: Vec<Turn<'a>>,
}

impl<'a> Conversation<'a> {
    /// Checks the message order: an optional system message, then user and assistant
    /// alternating, ending with a user message.
    pub(crate) fn parse(messages: &'a [Message]) -> Result<Self, TemplateError> {
        let (system, rest) = match messages.split_first() {
            Some((first, rest)) if first.role == Role::System => (Some(&*first.content), rest),
            _ => (None, messages),
        };

        let offset = messages.len() - rest.len();
        let mut turns: Vec<Turn<'a>> = Vec::new();
        for (i, message) in rest.iter().enumerate() {
            let expected = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            if message.role != expected {
                let index = offset + i;
                return Err(TemplateError::OutOfOrder {
                    index,
                    role: message.role,
                    expected,
                });
            }
            match (expected, turns.last_mut()) {
                (Role::Assistant, Some(turn)) => turn.assistant = Some(&message.content),
                _ => turns.push(Turn {
                    user: &message.content,
                    assistant: None,
                }),
            }
        }

        match turns.last() {
            Some(turn) if turn.assistant.is_none() => Ok(Self { system, turns }),
            _ => Err(TemplateError::NoUserMessage),
        }
    }

    /// The first user message with the system prompt in front, for templates that have no
    /// system role.
    fn merged_first_user(&self, index: usize) -> String {
        match (index, self.system) {
            (0, Some(system)) => format!("{system}\n\n{}", self.turns[0].user),
            _ => self.turns[index].user.to_owned(),
        }
    }
}

/// Renders a checked conversation with `template`.
pub(crate) fn render(template: ChatTemplate, conversation: &Conversation<'_>) -> String {
    match template {
        ChatTemplate::ChatMl => tagged(conversation, chatml),
        ChatTemplate::Llama3Chat => tagged(conversation, llama3),
        ChatTemplate::Phi3Chat => tagged(conversation, phi3),
        ChatTemplate::Llama2Chat => llama2(conversation),
        ChatTemplate::MistralInstruct => mistral(conversation),
        ChatTemplate::GemmaInstruct => gemma(conversation),
    }
}

/// Templates where every message, the system prompt included, is one block opened by its
/// role; `block(role, content)` renders a block and `block(role, None)` the opening that cues
/// the assistant.
fn tagged(conversation: &Conversation<'_>, block: fn(&str, Option<&str>) -> String) -> String {
    let mut prompt = String::new();
    if let Some(system) = conversation.system {
        prompt.push_str(&block("system", Some(system)));
    }
    for turn in &conversation.turns {
        prompt.push_str(&block("user", Some(turn.user)));
        if let Some(answer) = turn.assistant {
            prompt.push_str(&block("assistant", Some(answer)));
        }
    }
    prompt + &block("assistant", None)
}

fn chatml(role: &str, content: Option<&str>) -> String {
    match content {
        Some(content) => format!("<|im_start|>{role}\n{content}<|im_end|>\n"),
        None => format!("<|im_start|>{role}\n"),
    }
}

fn llama3(role: &str, content: Option<&str>) -> String {
    let header = format!("<|start_header_id|>{role}<|end_header_id|>\n\n");
    match content {
        Some(content) => format!("{header}{content}<|eot_id|>"),
        None => header,
    }
}

fn phi3(role: &str, content: Option<&str>) -> String {
    match content {
        Some(content) => format!("<|{role}|>\n{content}<|end|>\n"),
        None => format!("<|{role}|>\n"),
    }
}

/// Llama 2: the system prompt sits inside the first `[INST]`; every later turn opens a new
/// sequence with `<s>` (the first `<s>` is the host's BOS).
fn llama2(conversation: &Conversation<'_>) -> String {
    let mut prompt = String::new();
    for (i, turn) in conversation.turns.iter().enumerate() {
        match (i, conversation.system) {
            (0, Some(system)) => prompt.push_str(&format!(
                "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{} [/INST]",
                turn.user
            )),
            (0, None) => prompt.push_str(&format!("[INST] {} [/INST]", turn.user)),
            _ => prompt.push_str(&format!("<s>[INST] {} [/INST]", turn.user)),
        }
        if let Some(answer) = turn.assistant {
            prompt.push_str(&format!(" {answer} </s>"));
        }
    }
    prompt
}

/// Mistral instruct: no system role, so the system prompt leads the first user message.
fn mistral(conversation: &Conversation<'_>) -> String {
    let mut prompt = String::new();
    for (i, turn) in conversation.turns.iter().enumerate() {
        prompt.push_str(&format!(
            "[INST] {} [/INST]",
            conversation.merged_first_user(i)
        ));
        if let Some(answer) = turn.assistant {
            prompt.push_str(&format!("{answer}</s>"));
        }
    }
    prompt
}

/// Gemma: roles `user` and `model`, no system role.
fn gemma(conversation: &Conversation<'_>) -> String {
    let mut prompt = String::new();
    for (i, turn) in conversation.turns.iter().enumerate() {
        let user = conversation.merged_first_user(i);
        prompt.push_str(&format!("<start_of_turn>user\n{user}<end_of_turn>\n"));
        if let Some(answer) = turn.assistant {
            prompt.push_str(&format!("<start_of_turn>model\n{answer}<end_of_turn>\n"));
        }
    }
    prompt + "<start_of_turn>model\n"
}

#[cfg(test)]
mod tests {
    use crate::{ChatTemplate, Message, Role, TemplateError};

    fn two_turns(system: bool) -> Vec<Message> {
        let mut messages = Vec::new();
        if system {
            messages.push(Message::system("Be brief."));
        }
        messages.push(Message::user("Hi"));
        messages.push(Message::assistant("Hello!"));
        messages.push(Message::user("Capital of France?"));
        messages
    }

    fn render(template: ChatTemplate, system: bool) -> String {
        template
            .render(&two_turns(system))
            .expect("a valid conversation")
    }

    #[test]
    fn chatml() {
        assert_eq!(
            render(ChatTemplate::ChatMl, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n\
             <|im_start|>user\nHi<|im_end|>\n\
             <|im_start|>assistant\nHello!<|im_end|>\n\
             <|im_start|>user\nCapital of France?<|im_end|>\n\
             <|im_start|>assistant\n"
        );
    }

    #[test]
    fn llama3_chat() {
        assert_eq!(
            render(ChatTemplate::Llama3Chat, true),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\nCapital of France?<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    }

    #[test]
    fn phi3_chat() {
        assert_eq!(
            render(ChatTemplate::Phi3Chat, false),
            "<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n\
             <|user|>\nCapital of France?<|end|>\n<|assistant|>\n"
        );
    }

    #[test]
    fn llama2_chat() {
        assert_eq!(
            render(ChatTemplate::Llama2Chat, true),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s>\
             <s>[INST] Capital of France? [/INST]"
        );
        assert_eq!(
            render(ChatTemplate::Llama2Chat, false),
            "[INST] Hi [/INST] Hello! </s><s>[INST] Capital of France? [/INST]"
        );
    }

    #[test]
    fn mistral_instruct_puts_the_system_prompt_in_the_first_user_message() {
        assert_eq!(
            render(ChatTemplate::MistralInstruct, true),
            "[INST] Be brief.\n\nHi [/INST]Hello!</s>[INST] Capital of France? [/INST]"
        );
    }

    #[test]
    fn gemma_instruct_puts_the_system_prompt_in_the_first_user_message() {
        assert_eq!(
            render(ChatTemplate::GemmaInstruct, true),
            "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n\
             <start_of_turn>model\nHello!<end_of_turn>\n\
             <start_of_turn>user\nCapital of France?<end_of_turn>\n\
             <start_of_turn>model\n"
        );
    }

    #[test]
    fn a_conversation_must_end_with_a_user_message() {
        let messages = [Message::user("Hi"), Message::assistant("Hello!")];
        assert_eq!(
            ChatTemplate::ChatMl.render(&messages),
            Err(TemplateError::NoUserMessage)
        );
        assert_eq!(
            ChatTemplate::ChatMl.render(&[]),
            Err(TemplateError::NoUserMessage)
        );
        let only_system = [Message::system("Be brief.")];
        assert_eq!(
            ChatTemplate::ChatMl.render(&only_system),
            Err(TemplateError::NoUserMessage)
        );
    }

    #[test]
    fn roles_must_alternate() {
        let messages = [Message::system("s"), Message::user("a"), Message::user("b")];
        assert_eq!(
            ChatTemplate::ChatMl.render(&messages),
            Err(TemplateError::OutOfOrder {
                index: 2,
                role: Role::User,
                expected: Role::Assistant
            })
        );
        let late_system = [Message::user("a"), Message::system("s")];
        assert_eq!(
            ChatTemplate::Phi3Chat.render(&late_system),
            Err(TemplateError::OutOfOrder {
                index: 1,
                role: Role::System,
                expected: Role::Assistant
            })
        );
    }
}
