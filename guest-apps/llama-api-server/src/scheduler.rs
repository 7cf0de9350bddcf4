//! Generation slots and the queue in front of them.
//!
//! WASI preview 1 has no threads, so the server interleaves its `--parallel` generations on
//! one thread: every [`Scheduler::tick`] generates one token in each busy slot, starting
//! from a different slot each time, so all streams progress together and no request holds
//! the model for a whole generation. A request that finds every slot busy waits in a
//! bounded queue; a full queue is answered with 503 by the caller. A job whose client
//! disconnects is dropped at once and its slot reset ([`Scheduler::cancel`]).
//!
//! Each step is one blocking WASI-NN call. On nnedge the slots' execution contexts are
//! sequences of one batched llama.cpp context (the chat graph is loaded with `parallel`): a
//! step only queues its token, and the first step of the next round decodes every slot's
//! token in one batch, so a tick costs about one decode, not one per slot. A new request's
//! prompt is decoded in the batch of the round it starts in, so it delays the other streams
//! by its prompt processing time once.

use std::collections::VecDeque;

use crate::backend::Backend;
use crate::job::{ConnId, Job, Outcome, Progress};
use crate::metrics::Load;

/// Output a tick produced for one connection.
#[derive(Debug, PartialEq)]
pub struct Emitted {
    /// The connection.
    pub conn: ConnId,
    /// Bytes to send.
    pub bytes: Vec<u8>,
    /// Set when the job finished: its outcome and whether the connection stays open.
    pub finished: Option<(Outcome, bool)>,
}

/// Slots, each idle or running a job, and the waiting jobs.
#[derive(Debug)]
pub struct Scheduler {
    slots: Vec<Option<Job>>,
    queue: VecDeque<Job>,
    queue_limit: usize,
    next: usize,
}

impl Scheduler {
    /// `slots` slots and room for `queue_limit` waiting jobs.
    pub fn new(slots: usize, queue_limit: usize) -> Self {
        Self {
            slots: (0..slots.max(1)).map(|_| None).collect(),
            queue: VecDeque::new(),
            queue_limit,
            next: 0,
        }
    }

    /// Accepts a job, or hands it back when every slot is taken and the queue is full. Jobs
    /// accepted since the last tick wait in the queue too, counted against the free slots.
    pub fn submit(&mut self, job: Job) -> Result<(), Box<Job>> {
        let free = self.slots.iter().filter(|s| s.is_none()).count();
        if self.queue.len() >= free + self.queue_limit {
            return Err(Box::new(job));
        }
        self.queue.push_back(job);
        Ok(())
    }

    /// Whether any job is running or waiting.
    pub fn has_work(&self) -> bool {
        !self.queue.is_empty() || self.slots.iter().any(Option::is_some)
    }

    /// Slot and queue occupancy.
    pub fn load(&self) -> Load {
        Load {
            active_slots: self.slots.iter().filter(|s| s.is_some()).count(),
            slots: self.slots.len(),
            queued: self.queue.len(),
        }
    }

    /// Drops the jobs of a connection that went away and resets their slots.
    pub fn cancel(&mut self, conn: ConnId, backend: &mut impl Backend) {
        self.queue.retain(|job| job.conn != conn);
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|job| job.conn == conn) {
                *slot = None;
                backend.reset(index);
            }
        }
    }

    /// Starts waiting jobs in free slots, then generates one token in every busy slot.
    pub fn tick(&mut self, backend: &mut impl Backend) -> Vec<Emitted> {
        let mut emitted = Vec::new();
        self.fill_slots(backend, &mut emitted);

        let count = self.slots.len();
        for offset in 0..count {
            let index = (self.next + offset) % count;
            let Some(job) = self.slots[index].as_mut() else {
                continue;
            };
            let mut bytes = Vec::new();
            let progress = job.advance(backend, index, &mut bytes);
            let conn = job.conn;
            let finished = self.settle(backend, index, progress);
            emitted.push(Emitted {
                conn,
                bytes,
                finished,
            });
        }
        self.next = (self.next + 1) % count;
        emitted
    }

    fn fill_slots(&mut self, backend: &mut impl Backend, emitted: &mut Vec<Emitted>) {
        for index in 0..self.slots.len() {
            if self.slots[index].is_some() {
                continue;
            }
            let Some(mut job) = self.queue.pop_front() else {
                return;
            };
            let mut bytes = Vec::new();
            let progress = job.begin(backend, index, &mut bytes);
            let conn = job.conn;
            self.slots[index] = Some(job);
            let finished = self.settle(backend, index, progress);
            if finished.is_some() || !bytes.is_empty() {
                emitted.push(Emitted {
                    conn,
                    bytes,
                    finished,
                });
            }
        }
    }

    /// Frees the slot of a finished job. The reset is a second one after a normal end
    /// (harmless) and clears whatever a failed call left behind otherwise.
    fn settle(
        &mut self,
        backend: &mut impl Backend,
        index: usize,
        progress: Progress,
    ) -> Option<(Outcome, bool)> {
        let Progress::Finished(outcome) = progress else {
            return None;
        };
        let job = self.slots[index].take()?;
        backend.reset(index);
        Some((outcome, job.keep_alive()))
    }
}
