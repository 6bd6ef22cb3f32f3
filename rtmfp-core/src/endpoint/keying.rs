//! Diffie-Hellman work that can run off the I/O thread.
//!
//! With [`EndpointConfig::offload_keying`](super::EndpointConfig::offload_keying)
//! the endpoint does not compute keying inside `handle_datagram`: the
//! responder's keying (on IIKeying) and the initiator's (on RHello and on
//! RIKeying) become [`KeyingJob`]s, which the driver runs on worker
//! threads and hands back as [`KeyingDone`]s.  A handshake burst then
//! costs the I/O thread almost nothing, and established sessions keep
//! flowing.

use super::SessionHandle;
use crate::crypto::{
    CryptoError, CryptoProfile, InitiatorKeying, ResponderKeyingResult, SessionKeys,
};
use rand::{rngs::StdRng, SeedableRng};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// An IIKeying that passed every check but the keying itself.
#[derive(Debug, Clone)]
pub(crate) struct PendingIIKeying {
    pub(crate) from: SocketAddr,
    pub(crate) initiator_session_id: u32,
    pub(crate) certificate: Vec<u8>,
    pub(crate) skic: Vec<u8>,
    /// The openings to the same address that were in glare with this
    /// IIKeying when it arrived (§3.5.1.3).  Openings started later are
    /// not in glare with it: done in order, this IIKeying came first.
    pub(crate) glare: Vec<SessionHandle>,
    /// When the cookie it echoes was made (see [`CookieJar::issued`]).
    ///
    /// [`CookieJar::issued`]: super::CookieJar::issued
    pub(crate) cookie_issued: Option<Instant>,
}

/// What the endpoint remembers while a job runs.
#[derive(Debug)]
pub(crate) enum Pending {
    /// Responder: answer this IIKeying.
    Responder(PendingIIKeying),
    /// Initiator: build the IIKeying for this RHello.
    InitiatorStart {
        handle: SessionHandle,
        from: SocketAddr,
        cookie: Vec<u8>,
        far_cert: Vec<u8>,
    },
    /// Initiator: open with this RIKeying's responder session ID.
    InitiatorFinish {
        handle: SessionHandle,
        responder_session_id: u32,
    },
}

/// The work itself.
pub(crate) enum Work {
    Responder {
        certificate: Vec<u8>,
        skic: Vec<u8>,
    },
    InitiatorStart {
        far_cert: Vec<u8>,
    },
    InitiatorFinish {
        state: InitiatorKeying,
        far_cert: Vec<u8>,
        skrc: Vec<u8>,
    },
}

/// What the work produced.
pub(crate) enum Outcome {
    Responder(Result<ResponderKeyingResult, CryptoError>),
    InitiatorStart(Result<InitiatorKeying, CryptoError>),
    InitiatorFinish {
        state: InitiatorKeying,
        result: Result<SessionKeys, CryptoError>,
    },
}

/// One handshake's Diffie-Hellman work (RFC 7016 §3.5.1.1): self-contained
/// and `Send`.
pub struct KeyingJob {
    pub(crate) id: u64,
    pub(crate) crypto: Arc<dyn CryptoProfile>,
    pub(crate) work: Work,
    pub(crate) seed: u64,
}

impl KeyingJob {
    /// Runs the job (on any thread).
    pub fn run(self) -> KeyingDone {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let outcome = match self.work {
            Work::Responder { certificate, skic } => {
                Outcome::Responder(self.crypto.responder_keying(&certificate, &skic, &mut rng))
            }
            Work::InitiatorStart { far_cert } => {
                Outcome::InitiatorStart(self.crypto.initiator_keying(&far_cert, &mut rng))
            }
            Work::InitiatorFinish {
                state,
                far_cert,
                skrc,
            } => {
                let result = self.crypto.initiator_finish(&state, &far_cert, &skrc);
                Outcome::InitiatorFinish { state, result }
            }
        };
        KeyingDone {
            id: self.id,
            outcome,
        }
    }
}

impl fmt::Debug for KeyingJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyingJob")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The outcome of a [`KeyingJob`].
pub struct KeyingDone {
    pub(crate) id: u64,
    pub(crate) outcome: Outcome,
}

impl fmt::Debug for KeyingDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyingDone")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
