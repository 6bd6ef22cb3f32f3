//! What the endpoint tells its application.

use crate::crypto::PeerId;
use crate::flow::{FlowId, MessageId};
use std::net::SocketAddr;

/// Identifies a session (opening or open) for the life of the endpoint.
/// Handles are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionHandle(pub u64);

/// Which end started the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This end sent the IHello.
    Initiator,
    /// This end answered it.
    Responder,
}

/// Why an opening session did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFailure {
    /// No answer before the ultimate open timeout (§3.5.1.1.1).
    Timeout,
    /// Another session to the same identity exists or won glare; the
    /// application should use that one (§3.5.1.1.1 step 1, §3.5.1.3).
    Duplicate(SessionHandle),
    /// The far end's keying was unacceptable (bad signature or keys).
    KeyingFailed,
    /// The application closed it before it opened.
    Cancelled,
    /// Every candidate address answered with an ICMP error (port, host or
    /// network unreachable): nothing listens there. The address is the
    /// last one to answer so. Only a startup packet of ours can draw the
    /// error, and the kernel matches it to our socket, so an off-path
    /// sender cannot make it up without seeing our traffic.
    Unreachable(SocketAddr),
}

impl std::fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenFailure::Timeout => f.write_str("no answer before the open timeout"),
            OpenFailure::Duplicate(other) => {
                write!(
                    f,
                    "another session to the same peer (session {}) is used",
                    other.0
                )
            }
            OpenFailure::KeyingFailed => f.write_str("the far end's keying was unacceptable"),
            OpenFailure::Cancelled => f.write_str("closed before it opened"),
            OpenFailure::Unreachable(address) => write!(
                f,
                "{address} is unreachable (ICMP unreachable: nothing listens there)"
            ),
        }
    }
}

/// Why an open session closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// This end closed it in order; the far end acknowledged or the
    /// S_NEARCLOSE time ran out (§3.5.5).
    Local,
    /// This end closed it abruptly (§3.5.5).
    LocalAbrupt,
    /// The far end closed it (Close Request or Close Ack, §3.5.5).
    Remote,
    /// Nothing arrived within the idle limit (§3.5.4.1).
    IdleTimeout,
    /// A new session from the same identity overrode it (§3.5.1.1.2).
    Overridden,
}

/// An event for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A session reached S_OPEN.
    SessionOpened {
        /// The session.
        session: SessionHandle,
        /// Which end started it.
        role: Role,
        /// The far end's address (DESTADDR).
        far_address: SocketAddr,
        /// The far end's peer ID, where the profile has one.
        far_peer_id: Option<PeerId>,
        /// NEAR_NONCE (RFC 7425 §4.6.5).
        near_nonce: Vec<u8>,
        /// FAR_NONCE.
        far_nonce: Vec<u8>,
    },
    /// An opening session failed (S_OPEN_FAILED).
    SessionOpenFailed {
        /// The session.
        session: SessionHandle,
        /// Why.
        reason: OpenFailure,
    },
    /// An open session reached S_CLOSED.
    SessionClosed {
        /// The session.
        session: SessionHandle,
        /// Why.
        reason: CloseReason,
    },
    /// An IHello arrived whose EPD selects no identity here; an introducer
    /// may answer it with [`Endpoint::send_redirect`](super::Endpoint::send_redirect)
    /// and [`Endpoint::send_forwarded_ihello`](super::Endpoint::send_forwarded_ihello).
    UnmatchedIHello {
        /// The Endpoint Discriminator asked for.
        epd: Vec<u8>,
        /// The initiator's tag.
        tag: Vec<u8>,
        /// Where the IHello came from.
        from: SocketAddr,
    },
    /// The far end opened a flow to us (§3.6.3.1).  Its messages are held
    /// until [`Endpoint::accept_flow`](super::Endpoint::accept_flow);
    /// [`Endpoint::reject_flow`](super::Endpoint::reject_flow) refuses it.
    FlowOpened {
        /// The session.
        session: SessionHandle,
        /// The receiving flow.
        flow: FlowId,
        /// The user's per-flow metadata.
        metadata: Vec<u8>,
        /// Our sending flow this one answers, if any (§2.3.11.1.2).
        association: Option<FlowId>,
    },
    /// A complete message on a receiving flow.
    Message {
        /// The session.
        session: SessionHandle,
        /// The receiving flow.
        flow: FlowId,
        /// The message.
        data: Vec<u8>,
        /// Messages before this one were abandoned by the sender and will
        /// never arrive (§3.6.1.2).
        gap_before: bool,
    },
    /// A receiving flow finished: every message up to the final one was
    /// delivered (§3.6.3.3).
    FlowFinished {
        /// The session.
        session: SessionHandle,
        /// The receiving flow.
        flow: FlowId,
    },
    /// Write receipt: the far end acknowledged every fragment of a message.
    MessageDelivered {
        /// The session.
        session: SessionHandle,
        /// The sending flow.
        flow: FlowId,
        /// The message.
        message: MessageId,
    },
    /// Write receipt: the message was abandoned (deadline, loss without
    /// retransmission, parent abandoned, rejection or close).
    MessageAbandoned {
        /// The session.
        session: SessionHandle,
        /// The sending flow.
        flow: FlowId,
        /// The message.
        message: MessageId,
    },
    /// A sending flow that refused a message is writable again.
    FlowWritable {
        /// The session.
        session: SessionHandle,
        /// The sending flow.
        flow: FlowId,
    },
    /// The far end rejected a sending flow (§3.6.2.10).
    FlowRejected {
        /// The session.
        session: SessionHandle,
        /// The sending flow.
        flow: FlowId,
        /// The exception code; 0 for automatic rejection.
        code: u64,
    },
    /// A closed sending flow has everything acknowledged (§3.6.2.11).
    FlowComplete {
        /// The session.
        session: SessionHandle,
        /// The sending flow.
        flow: FlowId,
    },
    /// A session's far address moved after a mobility check (§3.5.4.2).
    FarAddressChanged {
        /// The session.
        session: SessionHandle,
        /// The old DESTADDR.
        from: SocketAddr,
        /// The new DESTADDR.
        to: SocketAddr,
    },
}
