//! Packet encryption and verification (RFC 7425 §4.7).
//!
//! ```text
//! encryptedPacket = CBC block 1 .. CBC block N [truncated HMAC]   (§4.7.2)
//! plaintext       = [VLU SSEQ] [u16 checksum] plain packet [0xff padding]
//! ```

use aes::cipher::block_padding::NoPadding;
use aes::cipher::consts::U16;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::typenum::Unsigned;
use aes::cipher::{
    BlockBackend, BlockClosure, BlockDecryptMut, BlockEncrypt, BlockSizeUser, InnerIvInit, KeyInit,
    ParBlocks,
};
use aes::{Aes128Dec, Aes128Enc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::checksum::internet_checksum;
use crate::crypto::tlv::{get_vlu, put_vlu, vlu_len};
use crate::crypto::{CryptoError, SessionCrypto};

/// HMAC-SHA256.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// AES block size.
pub const BLOCK: usize = 16;

/// The most packets [`SessionCrypto::encrypt_many`] runs side by side:
/// AES-NI's parallel blocks.
const MAX_LANES: usize = 8;

/// AES-128-CBC encryption in place of whole blocks (RFC 7425 §4.7.1). The
/// packet cipher calls this with a zero IV; the IV is a parameter so the
/// known-answer tests (NIST SP 800-38A F.2.1) can use this exact path.
/// `buf.len()` must be a multiple of 16; any partial tail is left alone.
///
/// The chain runs inside the cipher's own backend (AES-NI where the CPU has
/// it), borrowing the key schedule: `cbc::Encryptor` would need a copy of
/// it for every packet, which a fan-out profile showed as a memmove of
/// about 1 % of the server's CPU.
pub fn cbc_encrypt(cipher: &Aes128Enc, iv: &[u8; 16], buf: &mut [u8]) {
    let n = buf.len() - buf.len() % BLOCK;
    cipher.encrypt_with_backend(CbcChain {
        iv: *iv,
        buf: &mut buf[..n],
    });
}

/// CBC encryption of whole blocks in place, given the block cipher's
/// backend (SP 800-38A §6.2: each plaintext block is XORed with the
/// previous ciphertext block, the first with the IV, then encrypted).
struct CbcChain<'a> {
    iv: [u8; BLOCK],
    buf: &'a mut [u8],
}

impl BlockSizeUser for CbcChain<'_> {
    type BlockSize = U16;
}

impl BlockClosure for CbcChain<'_> {
    // Always inlined into the backend's caller, which is compiled for
    // AES-NI: only then is the AES round code inlined into this loop.  A
    // build that left the loop out of line called the round code once per
    // block (a third more time in AES in a fan-out profile).
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = Self::BlockSize>>(self, backend: &mut B) {
        let mut previous = self.iv;
        for chunk in self.buf.chunks_exact_mut(BLOCK) {
            for (byte, prev) in chunk.iter_mut().zip(previous) {
                *byte ^= prev;
            }
            let block = GenericArray::from_mut_slice(chunk);
            backend.proc_block(block.into());
            previous.copy_from_slice(chunk);
        }
    }
}

/// AES-128-CBC encryption in place of several independent buffers under
/// one key, each with a zero IV (RFC 7425 §4.7.1), as [`cbc_encrypt`]
/// does one at a time.  CBC is serial within a buffer (each block waits
/// for the one before), so one chain leaves AES-NI mostly idle; here the
/// backend's parallel blocks carry one block of each of several buffers
/// at a time (8 with AES-NI).  Each buffer's partial tail is left alone.
pub fn cbc_encrypt_lanes(cipher: &Aes128Enc, bufs: &mut [&mut [u8]]) {
    cipher.encrypt_with_backend(CbcLanes { bufs });
}

/// CBC chains of several buffers, run side by side (see
/// [`cbc_encrypt_lanes`]).
struct CbcLanes<'a, 'b> {
    bufs: &'a mut [&'b mut [u8]],
}

impl BlockSizeUser for CbcLanes<'_, '_> {
    type BlockSize = U16;
}

impl BlockClosure for CbcLanes<'_, '_> {
    // Inlined into the AES-NI backend's caller, as `CbcChain::call`.
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = Self::BlockSize>>(self, backend: &mut B) {
        let lanes = B::ParBlocksSize::USIZE;
        for group in self.bufs.chunks_mut(lanes.max(1)) {
            if group.len() == 1 {
                for buf in group.iter_mut() {
                    CbcChain {
                        iv: [0; BLOCK],
                        buf,
                    }
                    .call(backend);
                }
                continue;
            }
            let blocks = group.iter().map(|b| b.len() / BLOCK).max().unwrap_or(0);
            let mut par = ParBlocks::<B>::default();
            // par[k] holds lane k's previous cipher block between steps
            // (the zero IV at first); a lane past its end keeps encrypting
            // its last block, and the result is thrown away.
            for j in 0..blocks {
                let at = j * BLOCK;
                for (k, buf) in group.iter().enumerate() {
                    if let Some(block) = buf.get(at..at + BLOCK) {
                        for (c, p) in par[k].iter_mut().zip(block) {
                            *c ^= p;
                        }
                    }
                }
                backend.proc_par_blocks((&mut par).into());
                for (k, buf) in group.iter_mut().enumerate() {
                    if let Some(block) = buf.get_mut(at..at + BLOCK) {
                        block.copy_from_slice(&par[k]);
                    }
                }
            }
        }
    }
}

/// AES-128-CBC decryption in place of whole blocks; see [`cbc_encrypt`].
pub fn cbc_decrypt(cipher: &Aes128Dec, iv: &[u8; 16], buf: &mut [u8]) {
    let n = buf.len() - buf.len() % BLOCK;
    let dec = cbc::Decryptor::<Aes128Dec>::inner_iv_init(cipher.clone(), iv.into());
    let _ = dec.decrypt_padded_mut::<NoPadding>(&mut buf[..n]);
}

/// The per-packet IV: 16 zero bytes, not sent (RFC 7425 §4.7.1).
const ZERO_IV: [u8; 16] = [0; 16];

/// Negotiated HMAC for one direction (RFC 7425 §4.6.4, §4.7.3.2).
#[derive(Clone, PartialEq, Eq)]
pub struct HmacParams {
    /// HMAC_SEND_KEY or HMAC_RECV_KEY.
    pub key: [u8; 32],
    /// Truncated HMAC length, 4..=32.
    pub len: usize,
}

impl std::fmt::Debug for HmacParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacParams")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// What was negotiated for each direction of a session key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PacketParams {
    /// HMAC on packets we send; `None` means the simple checksum.
    pub send_hmac: Option<HmacParams>,
    /// HMAC on packets we receive; `None` means the simple checksum.
    pub recv_hmac: Option<HmacParams>,
    /// Whether we send session sequence numbers (RFC 7425 §4.6.6).
    pub send_sseq: bool,
    /// Whether the far end sends session sequence numbers.
    pub recv_sseq: bool,
}

/// Anti-replay sliding window over session sequence numbers
/// (RFC 7425 §4.7.3.3; RFC 4303 §3.4.3 style). Tolerates reordering by up to
/// [`ReplayWindow::SIZE`] − 1 sequence numbers.
#[derive(Clone, Debug, Default)]
pub struct ReplayWindow {
    /// Highest sequence number accepted so far.
    top: Option<u64>,
    /// Bit i set ⇔ `top − i` was accepted.
    bits: u128,
}

impl ReplayWindow {
    /// Window width in sequence numbers (RFC 7425 §4.7.3.3 requires ≥ 32).
    pub const SIZE: u64 = 128;

    /// A window that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `seq` would be accepted: not seen and not below the window.
    pub fn check(&self, seq: u64) -> bool {
        match self.top {
            None => true,
            Some(top) if seq > top => true,
            Some(top) => {
                let d = top - seq;
                d < Self::SIZE && self.bits & (1u128 << d) == 0
            }
        }
    }

    /// Records `seq` as seen. Call only after [`ReplayWindow::check`] passed
    /// and the packet verified.
    pub fn commit(&mut self, seq: u64) {
        match self.top {
            None => {
                self.top = Some(seq);
                self.bits = 1;
            }
            Some(top) if seq > top => {
                let shift = seq - top;
                self.bits = if shift >= Self::SIZE {
                    1
                } else {
                    (self.bits << shift) | 1
                };
                self.top = Some(seq);
            }
            Some(top) => {
                let d = top - seq;
                if d < Self::SIZE {
                    self.bits |= 1u128 << d;
                }
            }
        }
    }
}

/// A Flash-profile session key (or the Default Session Key): AES-128-CBC
/// with zero IV plus checksum or truncated HMAC, optional SSEQ.
pub struct FlashSessionCrypto {
    enc: Aes128Enc,
    dec: Aes128Dec,
    send_hmac: Option<(HmacSha256, usize)>,
    recv_hmac: Option<(HmacSha256, usize)>,
    next_sseq: Option<u64>,
    recv_window: Option<ReplayWindow>,
}

impl std::fmt::Debug for FlashSessionCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlashSessionCrypto")
            .field("send_hmac_len", &self.send_hmac.as_ref().map(|h| h.1))
            .field("recv_hmac_len", &self.recv_hmac.as_ref().map(|h| h.1))
            .field("send_sseq", &self.next_sseq.is_some())
            .field("recv_sseq", &self.recv_window.is_some())
            .finish_non_exhaustive()
    }
}

fn keyed(p: &HmacParams) -> (HmacSha256, usize) {
    // HMAC accepts keys of any length; cannot fail.
    let mac = <HmacSha256 as KeyInit>::new_from_slice(&p.key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    (mac, p.len.clamp(4, 32))
}

impl FlashSessionCrypto {
    /// A session key from the first 16 bytes of ENCRYPT_KEY and DECRYPT_KEY
    /// (RFC 7425 §4.6.3) and the negotiated parameters. HMAC lengths are
    /// clamped to 4..=32.
    pub fn new(encrypt_key: &[u8; 16], decrypt_key: &[u8; 16], params: &PacketParams) -> Self {
        FlashSessionCrypto {
            enc: Aes128Enc::new(encrypt_key.into()),
            dec: Aes128Dec::new(decrypt_key.into()),
            send_hmac: params.send_hmac.as_ref().map(keyed),
            recv_hmac: params.recv_hmac.as_ref().map(keyed),
            next_sseq: params.send_sseq.then_some(0),
            recv_window: params.recv_sseq.then(ReplayWindow::new),
        }
    }

    /// Appends the plaintext of `plain` to `out` (RFC 7425 §4.7.2: SSEQ,
    /// checksum, the packet, padding), ready for CBC.
    fn frame(&mut self, plain: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        if let Some(seq) = &mut self.next_sseq {
            put_vlu(out, *seq);
            // RFC 7425 §4.6.6: +1 per packet, never wraps.
            *seq = seq.saturating_add(1);
        }
        let cks_at = if self.send_hmac.is_none() {
            out.extend_from_slice(&[0, 0]);
            Some(out.len() - 2)
        } else {
            None
        };
        out.extend_from_slice(plain);
        let pad = (BLOCK - (out.len() - start) % BLOCK) % BLOCK;
        out.resize(out.len() + pad, 0xff);
        if let Some(at) = cks_at {
            // RFC 7425 §4.7.3.1: after padding, over bytes after the field.
            let c = internet_checksum(&out[at + 2..]);
            out[at..at + 2].copy_from_slice(&c.to_be_bytes());
        }
    }

    /// Appends the HMAC of the cipher blocks `out[start..]`, if one is
    /// sent (RFC 7425 §4.7.3.2).
    fn tag(&self, out: &mut Vec<u8>, start: usize) {
        if let Some((mac, len)) = &self.send_hmac {
            let mut mac = mac.clone();
            mac.update(&out[start..]);
            let tag = mac.finalize().into_bytes();
            out.extend_from_slice(&tag[..*len]);
        }
    }

    fn header_len(&self) -> usize {
        let sseq = self.next_sseq.map_or(0, vlu_len);
        let cks = if self.send_hmac.is_none() { 2 } else { 0 };
        sseq + cks
    }

    fn open(&mut self, encrypted: &[u8], out: &mut Vec<u8>) -> Result<usize, CryptoError> {
        // RFC 7425 §4.7.2: exactly N×16 + hmacLength bytes, N ≥ 1.
        let hmac_len = self.recv_hmac.as_ref().map_or(0, |h| h.1);
        let body_len = encrypted
            .len()
            .checked_sub(hmac_len)
            .filter(|&n| n >= BLOCK && n % BLOCK == 0)
            .ok_or(CryptoError::BadLength)?;
        let (blocks, tag) = encrypted.split_at(body_len);
        // RFC 7425 §4.7.3.2: HMAC over all cipher blocks, checked first.
        if let Some((mac, _)) = &self.recv_hmac {
            let mut mac = mac.clone();
            mac.update(blocks);
            mac.verify_truncated_left(tag)
                .map_err(|_| CryptoError::BadHmac)?;
        }
        let start = out.len();
        out.extend_from_slice(blocks);
        cbc_decrypt(&self.dec, &ZERO_IV, &mut out[start..]);
        let plain = &out[start..];
        let mut pos = 0;
        let mut seq = None;
        if self.recv_window.is_some() {
            let (s, n) = get_vlu(plain).map_err(|_| CryptoError::Malformed("bad SSEQ"))?;
            seq = Some(s);
            pos = n;
        }
        if self.recv_hmac.is_none() {
            // RFC 7425 §4.7.3.1: checksum over the bytes after the field.
            let field = plain.get(pos..pos + 2).ok_or(CryptoError::BadLength)?;
            let want = u16::from_be_bytes([field[0], field[1]]);
            if internet_checksum(&plain[pos + 2..]) != want {
                return Err(CryptoError::BadChecksum);
            }
            pos += 2;
        }
        // RFC 7425 §4.7.3.3: drop duplicates and sequence numbers below the
        // window, only after the packet verified.
        if let (Some(window), Some(s)) = (&mut self.recv_window, seq) {
            if !window.check(s) {
                return Err(CryptoError::Replay);
            }
            window.commit(s);
        }
        Ok(pos)
    }
}

impl SessionCrypto for FlashSessionCrypto {
    fn encrypt(&mut self, plain: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        self.frame(plain, out);
        cbc_encrypt(&self.enc, &ZERO_IV, &mut out[start..]);
        self.tag(out, start);
    }

    fn encrypt_many(&mut self, plains: &[Vec<u8>], outs: &mut [Vec<u8>]) {
        let mut starts = [0usize; MAX_LANES];
        for (plains, outs) in plains.chunks(MAX_LANES).zip(outs.chunks_mut(MAX_LANES)) {
            for ((plain, out), start) in plains.iter().zip(outs.iter_mut()).zip(&mut starts) {
                *start = out.len();
                self.frame(plain, out);
            }
            let n = outs.len();
            let mut bufs: [&mut [u8]; MAX_LANES] = Default::default();
            for ((buf, out), &start) in bufs.iter_mut().zip(outs.iter_mut()).zip(&starts) {
                *buf = &mut out[start..];
            }
            cbc_encrypt_lanes(&self.enc, &mut bufs[..n]);
            for (out, &start) in outs.iter_mut().zip(&starts) {
                self.tag(out, start);
            }
        }
    }

    fn decrypt(&mut self, encrypted: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        let start = out.len();
        match self.open(encrypted, out) {
            Ok(prefix) => {
                out.drain(start..start + prefix);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    fn overhead(&self, plain_len: usize) -> usize {
        let inner = self.header_len() + plain_len;
        let padded = inner.div_ceil(BLOCK) * BLOCK;
        let hmac = self.send_hmac.as_ref().map_or(0, |h| h.1);
        padded - plain_len + hmac
    }

    fn max_plain_len(&self, budget: usize) -> usize {
        let hmac = self.send_hmac.as_ref().map_or(0, |h| h.1);
        let blocks = budget.saturating_sub(hmac) / BLOCK * BLOCK;
        blocks.saturating_sub(self.header_len())
    }
}
