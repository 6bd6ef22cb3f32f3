//! Session Keying Components (RFC 7425 §4.5) and HMAC / SSEQ negotiation
//! (RFC 7425 §4.6.4, §4.6.6).

use crate::crypto::tlv::{get_vlu, put_option, put_vlu, vlu_exact, Element, Options};
use crate::crypto::CryptoError;

/// 0x0d Ephemeral DH Public Key (RFC 7425 §4.5.2.1).
pub const OPT_EPHEMERAL_DH_KEY: u64 = 0x0d;
/// 0x0e Extra Randomness (RFC 7425 §4.5.2.2).
pub const OPT_EXTRA_RANDOMNESS: u64 = 0x0e;
/// 0x1d Diffie-Hellman Group Select (RFC 7425 §4.5.2.3).
pub const OPT_DH_GROUP_SELECT: u64 = 0x1d;
/// 0x1a HMAC Negotiation (RFC 7425 §4.5.2.4).
pub const OPT_HMAC_NEGOTIATION: u64 = 0x1a;
/// 0x1e Session Sequence Number Negotiation (RFC 7425 §4.5.2.5).
pub const OPT_SSEQ_NEGOTIATION: u64 = 0x1e;

/// willSendAlways flag.
pub const FLAG_SND: u8 = 0x04;
/// willSendOnRequest flag.
pub const FLAG_SOR: u8 = 0x02;
/// request flag.
pub const FLAG_REQ: u8 = 0x01;

/// The SND/SOR/REQ flags of an HMAC or SSEQ Negotiation option.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NegotiationFlags {
    /// SND: will always send.
    pub send_always: bool,
    /// SOR: will send if the other end requests.
    pub send_on_request: bool,
    /// REQ: asks the other end to send.
    pub request: bool,
}

impl NegotiationFlags {
    /// Encodes the flag byte (reserved bits zero).
    pub fn to_byte(self) -> u8 {
        (if self.send_always { FLAG_SND } else { 0 })
            | (if self.send_on_request { FLAG_SOR } else { 0 })
            | (if self.request { FLAG_REQ } else { 0 })
    }

    /// Decodes a flag byte, ignoring reserved bits.
    pub fn from_byte(b: u8) -> Self {
        NegotiationFlags {
            send_always: b & FLAG_SND != 0,
            send_on_request: b & FLAG_SOR != 0,
            request: b & FLAG_REQ != 0,
        }
    }

    /// Whether a sender with these flags offers to send at all.
    pub fn offers(self) -> bool {
        self.send_always || self.send_on_request
    }
}

/// Whether `sender` will send (HMAC or SSEQ) to `receiver`: iff SND, or SOR
/// and the receiver's REQ (RFC 7425 §4.6.4, §4.6.6).
pub fn will_send(sender: NegotiationFlags, receiver: NegotiationFlags) -> bool {
    sender.send_always || (sender.send_on_request && receiver.request)
}

/// HMAC Negotiation option value (RFC 7425 §4.5.2.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HmacNegotiation {
    /// SND/SOR/REQ.
    pub flags: NegotiationFlags,
    /// Length of the HMAC the sender will send: 4..=32, or 0 iff neither
    /// SND nor SOR.
    pub hmac_length: u64,
}

/// A parsed Session Keying Component (RFC 7425 §4.5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyingComponent {
    /// Ephemeral DH public key: (group, big-endian key).
    pub ephemeral_key: Option<(u64, Vec<u8>)>,
    /// Extra Randomness (the first, if repeated).
    pub extra_randomness: Option<Vec<u8>>,
    /// DH Group Select.
    pub group_select: Option<u64>,
    /// HMAC Negotiation.
    pub hmac: Option<HmacNegotiation>,
    /// SSEQ Negotiation.
    pub sseq: Option<NegotiationFlags>,
}

impl KeyingComponent {
    /// Parses a keying component. Unknown options are ignored
    /// (RFC 7425 §4.5.2); a repeated 0x0d/0x1d, a bad VLU or an HMAC length
    /// outside 4..=32 while offering to send is malformed.
    pub fn parse(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut k = KeyingComponent::default();
        for el in Options::new(bytes) {
            let (typ, value) = match el? {
                Element::Marker => continue,
                Element::Option { typ, value } => (typ, value),
            };
            match typ {
                OPT_EPHEMERAL_DH_KEY => {
                    let (g, n) = get_vlu(value)?;
                    if k.ephemeral_key.replace((g, value[n..].to_vec())).is_some() {
                        return Err(CryptoError::Malformed("ephemeral DH key more than once"));
                    }
                }
                OPT_EXTRA_RANDOMNESS if k.extra_randomness.is_none() => {
                    k.extra_randomness = Some(value.to_vec());
                }
                OPT_DH_GROUP_SELECT if k.group_select.is_some() => {
                    return Err(CryptoError::Malformed("DH group select more than once"));
                }
                OPT_DH_GROUP_SELECT => k.group_select = Some(vlu_exact(value)?),
                OPT_HMAC_NEGOTIATION => {
                    let (&b, rest) = value
                        .split_first()
                        .ok_or(CryptoError::Malformed("empty HMAC negotiation"))?;
                    let flags = NegotiationFlags::from_byte(b);
                    let hmac_length = vlu_exact(rest)?;
                    if flags.offers() && !(4..=32).contains(&hmac_length) {
                        return Err(CryptoError::Malformed("HMAC length not in 4..=32"));
                    }
                    if k.hmac.is_none() {
                        k.hmac = Some(HmacNegotiation { flags, hmac_length });
                    }
                }
                OPT_SSEQ_NEGOTIATION => {
                    let &b = value
                        .first()
                        .ok_or(CryptoError::Malformed("empty SSEQ negotiation"))?;
                    if k.sseq.is_none() {
                        k.sseq = Some(NegotiationFlags::from_byte(b));
                    }
                }
                _ => {}
            }
        }
        Ok(k)
    }

    /// Encodes the component in the Initiator's order:
    /// [`encode_initiator`](Self::encode_initiator).
    pub fn encode(&self) -> Vec<u8> {
        self.encode_initiator()
    }

    /// Encodes the component as an Initiator sends it: 0x0d, 0x1d, 0x0e,
    /// 0x1a, 0x1e, each if present. This is Flash Player's order (group
    /// select, 64 bytes of randomness, then the negotiations: 76 bytes).
    pub fn encode_initiator(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.put_keys(&mut out);
        self.put_negotiations(&mut out);
        out
    }

    /// Encodes the component as a Responder sends it: 0x1a, 0x1e, then
    /// 0x0d, 0x1d, 0x0e. This is the order Flash Player and Adobe's servers
    /// used; Flash-era initiators (librtmfp) expect the negotiations first
    /// and read the ephemeral key at a fixed offset after them.
    pub fn encode_responder(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.put_negotiations(&mut out);
        self.put_keys(&mut out);
        out
    }

    fn put_keys(&self, out: &mut Vec<u8>) {
        if let Some((g, key)) = &self.ephemeral_key {
            let mut v = Vec::with_capacity(key.len() + 2);
            put_vlu(&mut v, *g);
            v.extend_from_slice(key);
            put_option(out, OPT_EPHEMERAL_DH_KEY, &v);
        }
        if let Some(g) = self.group_select {
            let mut v = Vec::new();
            put_vlu(&mut v, g);
            put_option(out, OPT_DH_GROUP_SELECT, &v);
        }
        if let Some(r) = &self.extra_randomness {
            put_option(out, OPT_EXTRA_RANDOMNESS, r);
        }
    }

    fn put_negotiations(&self, out: &mut Vec<u8>) {
        if let Some(h) = &self.hmac {
            let mut v = vec![h.flags.to_byte()];
            put_vlu(&mut v, h.hmac_length);
            put_option(out, OPT_HMAC_NEGOTIATION, &v);
        }
        if let Some(s) = &self.sseq {
            put_option(out, OPT_SSEQ_NEGOTIATION, &[s.to_byte()]);
        }
    }
}

/// This endpoint's policy for one negotiated feature (HMAC or SSEQ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Set SND: always send.
    pub send_always: bool,
    /// Set SOR: send if the far end requests.
    pub send_on_request: bool,
    /// Set REQ: ask the far end to send.
    pub request: bool,
    /// Reject a far end that will not send (implies `request`).
    pub require: bool,
}

impl Policy {
    /// Send on request, request, do not require: interoperates with peers
    /// that lack the feature, and uses it with peers that have it.
    pub const OPPORTUNISTIC: Policy = Policy {
        send_always: false,
        send_on_request: true,
        request: true,
        require: false,
    };
    /// Always send, and require the far end to send.
    pub const REQUIRED: Policy = Policy {
        send_always: true,
        send_on_request: true,
        request: true,
        require: true,
    };
    /// Never send, never ask.
    pub const OFF: Policy = Policy {
        send_always: false,
        send_on_request: false,
        request: false,
        require: false,
    };

    /// The flags this policy advertises as Initiator.
    pub fn flags(self) -> NegotiationFlags {
        NegotiationFlags {
            send_always: self.send_always,
            send_on_request: self.send_on_request,
            request: self.request || self.require,
        }
    }

    /// The flags this policy answers an Initiator's `far` flags with, as
    /// Responder. Conservative in what we send: a policy that insists
    /// (always send, or require) says so; otherwise we move up only when
    /// the Initiator asks. An Initiator that requests gets our full flags;
    /// one that does not (Flash Player offered "send on request" and never
    /// requested) gets all flags clear, which is what Flash Player and
    /// Adobe's servers answered and what Flash-era initiators check for.
    pub fn answer(self, far: NegotiationFlags) -> NegotiationFlags {
        if self.send_always || self.require || far.request {
            self.flags()
        } else {
            NegotiationFlags::default()
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::OPPORTUNISTIC
    }
}

/// The outcome of negotiating one feature: whether each direction uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// We send it.
    pub send: bool,
    /// The far end sends it.
    pub recv: bool,
}

/// Negotiates one feature between our `near` flags and the far end's
/// (absent option = all flags clear) (RFC 7425 §4.6.4, §4.6.6). Returns
/// `None` if we require it and the far end will not send it.
pub fn negotiate(near: Policy, far: Option<NegotiationFlags>) -> Option<Outcome> {
    negotiate_flags(near, near.flags(), far)
}

/// [`negotiate`] where we advertised `near_flags` (say, a Responder's
/// [`Policy::answer`]) under the policy `near`.
pub fn negotiate_flags(
    near: Policy,
    near_flags: NegotiationFlags,
    far: Option<NegotiationFlags>,
) -> Option<Outcome> {
    let far = far.unwrap_or_default();
    let out = Outcome {
        send: will_send(near_flags, far),
        recv: will_send(far, near_flags),
    };
    if near.require && !out.recv {
        return None;
    }
    Some(out)
}
