//! The conversation so far: the system prompt and the finished exchanges, oldest first.
//!
//! When a prompt no longer fits in the context window the chat drops the oldest exchange
//! ([`History::drop_oldest`]); the system prompt always stays.

use std::collections::VecDeque;

use chat_templates::Message;

/// One finished exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Exchange {
    user: String,
    assistant: String,
}

/// The system prompt and the finished exchanges.
#[derive(Debug, Clone, Default)]
pub struct History {
    system: Option<String>,
    exchanges: VecDeque<Exchange>,
}

impl History {
    /// An empty history with an optional system prompt.
    pub fn new(system: Option<String>) -> Self {
        Self {
            system,
            exchanges: VecDeque::new(),
        }
    }

    /// The messages to render for a new user message: system prompt, past exchanges, `user`.
    pub fn conversation(&self, user: &str) -> Vec<Message> {
        let system = self.system.iter().map(Message::system);
        let past = self.exchanges.iter().flat_map(|exchange| {
            [
                Message::user(exchange.user.as_str()),
                Message::assistant(exchange.assistant.as_str()),
            ]
        });
        system.chain(past).chain([Message::user(user)]).collect()
    }

    /// Records a finished exchange.
    pub fn record(&mut self, user: &str, assistant: String) {
        self.exchanges.push_back(Exchange {
            user: user.to_owned(),
            assistant,
        });
    }

    /// Forgets the oldest exchange; false when there was none.
    pub fn drop_oldest(&mut self) -> bool {
        self.exchanges.pop_front().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_orders_system_past_and_new_messages() {
        let mut history = History::new(Some("Be brief.".into()));
        history.record("Hi", "Hello!".into());
        assert_eq!(
            history.conversation("Bye"),
            [
                Message::system("Be brief."),
                Message::user("Hi"),
                Message::assistant("Hello!"),
                Message::user("Bye"),
            ]
        );
    }

    #[test]
    fn drop_oldest_keeps_the_system_prompt() {
        let mut history = History::new(Some("Be brief.".into()));
        history.record("one", "1".into());
        history.record("two", "2".into());
        assert!(history.drop_oldest());
        assert_eq!(
            history.conversation("three")[..2],
            [Message::system("Be brief."), Message::user("two")]
        );
        assert!(history.drop_oldest());
        assert!(!history.drop_oldest());
        assert_eq!(
            history.conversation("x"),
            [Message::system("Be brief."), Message::user("x")]
        );
    }
}
