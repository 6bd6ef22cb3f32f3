//! What every language adapter needs to host an object (an endpoint, a
//! NetConnection, a server) over the runtime, written once: the object's
//! event stream with blocking waits that have deadlines, events that a
//! wait set aside, a non-blocking drain, and close.
//!
//! The adapters (C, Python, Node) only convert values and fit their
//! language: a [`Waiter`] says how a wait spends its time (Python releases
//! the GIL while it blocks, and checks for Ctrl-C between slices).
//!
//! This is the first piece of the shared host model; see the plan in
//! `docs/host-model.md` (from the repository root).

pub mod describe;
mod events;
mod failure;
mod hosted;
pub mod options;
pub mod outcome;

pub use describe::{Describe, Description, Field, Value};
pub use events::{AfterClose, EventSource, Events, Next, Waiter, SLICE};
pub use failure::{open_failure, verdict_failure, Classify, ErrorKind, Failure};
pub use hosted::{Host, Hosted};
