//! Flows (RFC 7016 §3.6): the sending and receiving halves, the
//! receiver's sequence set, and Appendix A congestion control.
//!
//! A session owns its flows and drives them; see `session::flows`.

pub mod congestion;
pub mod rangeset;
pub mod recv;
pub mod send;

use std::time::Duration;

/// A flow identifier within one session and one direction.  Sending and
/// receiving flows are numbered independently (§3.6.1.1).
pub type FlowId = u64;

/// A message handle within one sending flow, for write receipts.
pub type MessageId = u64;

/// Eight precedence levels, lowest first.  Flows above [`Priority::Routine`]
/// are Time Critical and mark their packets TC (§2.2.4, §3.5.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Background transfers.
    Background,
    /// Bulk data.
    Bulk,
    /// Ordinary data.
    Data,
    /// Routine: the default, the highest non-time-critical level.
    #[default]
    Routine,
    /// Priority: time critical (for example video).
    Priority,
    /// Immediate: time critical (for example audio).
    Immediate,
    /// Flash: time critical.
    Flash,
    /// Flash override: the highest.
    FlashOverride,
}

impl Priority {
    /// All levels, lowest first.
    pub const ALL: [Priority; 8] = [
        Priority::Background,
        Priority::Bulk,
        Priority::Data,
        Priority::Routine,
        Priority::Priority,
        Priority::Immediate,
        Priority::Flash,
        Priority::FlashOverride,
    ];

    /// Whether this level is Time Critical.
    pub fn is_time_critical(self) -> bool {
        self > Priority::Routine
    }

    /// The level as 0..=7.
    pub fn level(self) -> u8 {
        self as u8
    }

    /// The level for 0..=7 (larger values saturate).
    pub fn from_level(level: u8) -> Self {
        Priority::ALL[usize::from(level.min(7))]
    }
}

/// How a receiving flow hands messages to the user (§3.6.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeliveryOrder {
    /// In the order the sender queued them (the default).
    #[default]
    Sequence,
    /// As soon as each message is complete, in network order.
    Network,
}

/// Per-message sending options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageOptions {
    /// Abandon the message unless its first transmission starts within
    /// this long of queueing.
    pub start_within: Option<Duration>,
    /// Abandon the message unless it is fully acknowledged within this
    /// long of queueing.
    pub finish_within: Option<Duration>,
    /// Send at most once: a lost fragment abandons the message instead of
    /// being retransmitted.
    pub no_retransmit: bool,
    /// Abandon this message if this earlier message of the same flow is
    /// abandoned (for example P-frames chained to their keyframe).
    pub parent: Option<MessageId>,
}

/// [`FlowLimits::max_recv_flows`]'s default.
pub const DEFAULT_MAX_RECV_FLOWS: usize = 512;

/// Flow settings an endpoint applies to new flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowLimits {
    /// A sending flow refuses new messages while this many bytes wait
    /// unacknowledged; it reports writable again when below.
    pub send_buffer: usize,
    /// BUFFER_CAPACITY of new receiving flows (§3.6.3).
    pub receive_buffer: usize,
    /// Most receiving flows a session keeps at once.  The first fragment
    /// of a further flow is dropped (and counted in
    /// [`FlowStats::flows_refused`](crate::session::flows::FlowStats::flows_refused)),
    /// so that a peer opening flows without end cannot make the session
    /// hold unbounded state.  Flash clients use a handful per stream.
    pub max_recv_flows: usize,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            send_buffer: 4 << 20,
            receive_buffer: 1 << 20,
            max_recv_flows: DEFAULT_MAX_RECV_FLOWS,
        }
    }
}
