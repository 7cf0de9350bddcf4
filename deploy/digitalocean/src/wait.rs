//! Polling until something reaches a state, and Ctrl-C while we poll.
//!
//! [`poll_until`] asks a closure every [`PollPolicy::interval`] until it yields a value, the
//! policy's timeout passes, or the [`Interrupt`] fires. The interrupt is a channel rather
//! than a direct Ctrl-C handler so that tests can fire it; [`Interrupt::ctrl_c`] wires it to
//! the terminal.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::debug;

use crate::error::DoError;

/// How often and how long to poll.
#[derive(Debug, Clone, Copy)]
pub struct PollPolicy {
    /// Pause between checks.
    pub interval: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

/// A signal that the user wants to stop waiting. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Interrupt(watch::Receiver<bool>);

/// Fires an [`Interrupt`].
#[derive(Debug)]
pub struct InterruptTrigger(watch::Sender<bool>);

impl Interrupt {
    /// An interrupt fired only through the returned trigger.
    pub fn manual() -> (Self, InterruptTrigger) {
        let (sender, receiver) = watch::channel(false);
        (Self(receiver), InterruptTrigger(sender))
    }

    /// An interrupt fired by Ctrl-C. Must be called inside a tokio runtime.
    pub fn ctrl_c() -> Self {
        let (interrupt, trigger) = Self::manual();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                trigger.fire();
            }
        });
        interrupt
    }

    /// Whether it has fired.
    pub fn fired(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when it fires (never, if the trigger is dropped unfired).
    pub async fn wait(&self) {
        let mut receiver = self.0.clone();
        if receiver.wait_for(|fired| *fired).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl InterruptTrigger {
    /// Fires the interrupt.
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

/// Calls `check` until it returns `Some`, the timeout passes or `interrupt` fires.
///
/// `what` and `state` name the wait in errors (`droplet 42`, `active`).
pub async fn poll_until<T, F, Fut>(
    what: &str,
    state: &str,
    policy: PollPolicy,
    interrupt: &Interrupt,
    mut check: F,
) -> Result<T, DoError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, DoError>>,
{
    let deadline = Instant::now() + policy.timeout;
    let interrupted = || DoError::Interrupted {
        what: what.to_owned(),
    };
    loop {
        if interrupt.fired() {
            return Err(interrupted());
        }
        let outcome = tokio::select! {
            outcome = check() => outcome?,
            () = interrupt.wait() => return Err(interrupted()),
        };
        if let Some(value) = outcome {
            return Ok(value);
        }

        if Instant::now() + policy.interval > deadline {
            return Err(DoError::WaitTimedOut {
                what: what.to_owned(),
                state: state.to_owned(),
                after: policy.timeout,
            });
        }
        debug!(what, state, "not there yet; polling again");
        tokio::select! {
            () = tokio::time::sleep(policy.interval) => {}
            () = interrupt.wait() => return Err(interrupted()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: PollPolicy = PollPolicy {
        interval: Duration::from_millis(5),
        timeout: Duration::from_millis(60),
    };

    #[tokio::test]
    async fn returns_the_first_value() {
        let (interrupt, _trigger) = Interrupt::manual();
        let mut calls = 0;
        let value = poll_until("thing", "ready", FAST, &interrupt, || {
            calls += 1;
            let ready = calls == 3;
            async move { Ok(ready.then_some(calls)) }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn times_out_and_honours_interrupts() {
        let (interrupt, trigger) = Interrupt::manual();
        let never = || async { Ok::<Option<()>, DoError>(None) };
        let timed_out = poll_until("thing", "ready", FAST, &interrupt, never).await;
        assert!(matches!(timed_out, Err(DoError::WaitTimedOut { .. })));

        trigger.fire();
        let interrupted = poll_until("thing", "ready", FAST, &interrupt, never).await;
        assert!(matches!(interrupted, Err(DoError::Interrupted { .. })));
    }
}
