//! Diffie-Hellman work that can run off the I/O thread.
//!
//! With [`EndpointConfig::offload_keying`](super::EndpointConfig::offload_keying)
//! the responder does not compute its keying inside `handle_datagram`:
//! it queues a [`KeyingJob`], which the driver runs on a worker thread and
//! hands back as a [`KeyingDone`].  A handshake burst then costs the I/O
//! thread almost nothing, and established sessions keep flowing.

use crate::crypto::{CryptoError, CryptoProfile, ResponderKeyingResult};
use rand::{rngs::StdRng, SeedableRng};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// An IIKeying that passed every check but the keying itself.
#[derive(Debug, Clone)]
pub(crate) struct PendingIIKeying {
    pub(crate) from: SocketAddr,
    pub(crate) initiator_session_id: u32,
    pub(crate) certificate: Vec<u8>,
    pub(crate) skic: Vec<u8>,
}

/// The responder's Diffie-Hellman work for one IIKeying (RFC 7016
/// §3.5.1.1.2 step 3): self-contained and `Send`.
pub struct KeyingJob {
    pub(crate) id: u64,
    pub(crate) crypto: Arc<dyn CryptoProfile>,
    pub(crate) certificate: Vec<u8>,
    pub(crate) skic: Vec<u8>,
    pub(crate) seed: u64,
}

impl KeyingJob {
    /// Runs the job (on any thread).
    pub fn run(self) -> KeyingDone {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let result = self
            .crypto
            .responder_keying(&self.certificate, &self.skic, &mut rng);
        KeyingDone {
            id: self.id,
            result,
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
    pub(crate) result: Result<ResponderKeyingResult, CryptoError>,
}

impl fmt::Debug for KeyingDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyingDone")
            .field("id", &self.id)
            .field("ok", &self.result.is_ok())
            .finish()
    }
}
