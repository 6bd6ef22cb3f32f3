//! Every chunk of RFC 7016 §2.3, decoded from and encoded to bytes.
//!
//! Decoding borrows from the packet: no allocation.  Each chunk encodes to
//! exactly the bytes it was decoded from when those bytes were canonical
//! (shortest VLUs); property tests check that.

use super::{
    address::Address,
    option::OptionList,
    packet::{CHUNK_HEADER_LEN, MAX_CHUNK_PAYLOAD},
    reader::{put_vlu_bytes, Reader},
    vlu, Result, WireError,
};

/// Chunk type codes (§2.3).
pub mod chunk_type {
    /// Packet Fragment (§2.3.1).
    pub const FRAGMENT: u8 = 0x7f;
    /// Initiator Hello (§2.3.2).
    pub const IHELLO: u8 = 0x30;
    /// Forwarded Initiator Hello (§2.3.3).
    pub const FIHELLO: u8 = 0x0f;
    /// Responder Hello (§2.3.4).
    pub const RHELLO: u8 = 0x70;
    /// Responder Redirect (§2.3.5).
    pub const REDIRECT: u8 = 0x71;
    /// RHello Cookie Change (§2.3.6).
    pub const COOKIE_CHANGE: u8 = 0x79;
    /// Initiator Initial Keying (§2.3.7).
    pub const IIKEYING: u8 = 0x38;
    /// Responder Initial Keying (§2.3.8).
    pub const RIKEYING: u8 = 0x78;
    /// Ping (§2.3.9).
    pub const PING: u8 = 0x01;
    /// Ping Reply (§2.3.10).
    pub const PING_REPLY: u8 = 0x41;
    /// User Data (§2.3.11).
    pub const USER_DATA: u8 = 0x10;
    /// Next User Data (§2.3.12).
    pub const NEXT_USER_DATA: u8 = 0x11;
    /// Data Acknowledgement Bitmap (§2.3.13).
    pub const BITMAP_ACK: u8 = 0x50;
    /// Data Acknowledgement Ranges (§2.3.14).
    pub const RANGE_ACK: u8 = 0x51;
    /// Buffer Probe (§2.3.15).
    pub const BUFFER_PROBE: u8 = 0x18;
    /// Flow Exception Report (§2.3.16).
    pub const FLOW_EXCEPTION: u8 = 0x5e;
    /// Session Close Request (§2.3.17).
    pub const CLOSE: u8 = 0x0c;
    /// Session Close Acknowledgement (§2.3.18).
    pub const CLOSE_ACK: u8 = 0x4c;

    /// Whether a chunk type is only allowed in startup packets (mode 3).
    ///
    /// All other known chunks, except Packet Fragment, are only allowed in
    /// modes 1 and 2 (§2.2.4, §2.3).
    pub fn is_startup(chunk_type: u8) -> bool {
        matches!(
            chunk_type,
            IHELLO | RHELLO | REDIRECT | COOKIE_CHANGE | IIKEYING | RIKEYING
        )
    }
}

/// User Data flag: options present (§2.3.11).
pub const UD_FLAG_OPT: u8 = 0x80;
/// User Data fragment control mask (§2.3.11).
pub const UD_FRA_MASK: u8 = 0x30;
/// User Data flag: abandon (§2.3.11).
pub const UD_FLAG_ABN: u8 = 0x02;
/// User Data flag: final (§2.3.11).
pub const UD_FLAG_FIN: u8 = 0x01;

/// User Data option: the user's per-flow metadata (§2.3.11.1.1).
pub const OPTION_USER_METADATA: u64 = 0x00;
/// User Data option: return flow association (§2.3.11.1.2).
pub const OPTION_RETURN_ASSOCIATION: u64 = 0x0a;

/// Packet Fragment flag: more fragments follow (§2.3.1).
const FRAGMENT_FLAG_MORE: u8 = 0x80;

/// Where a User Data fragment sits in its message (the FRA field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FragmentControl {
    /// 0: the whole message.
    Whole,
    /// 1: the first fragment.
    Begin,
    /// 2: the last fragment.
    End,
    /// 3: a middle fragment.
    Middle,
}

impl FragmentControl {
    fn from_flags(flags: u8) -> Self {
        match (flags & UD_FRA_MASK) >> 4 {
            0 => FragmentControl::Whole,
            1 => FragmentControl::Begin,
            2 => FragmentControl::End,
            _ => FragmentControl::Middle,
        }
    }

    fn bits(self) -> u8 {
        let value = match self {
            FragmentControl::Whole => 0,
            FragmentControl::Begin => 1,
            FragmentControl::End => 2,
            FragmentControl::Middle => 3,
        };
        value << 4
    }
}

/// Packet Fragment (§2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// M: more fragments of this packet follow.
    pub more: bool,
    /// Identifies the fragmented packet.
    pub packet_id: u64,
    /// Index of this fragment, from 0.
    pub fragment_num: u64,
    /// This fragment's bytes; never empty.
    pub data: &'a [u8],
}

/// Initiator Hello (§2.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IHello<'a> {
    /// Endpoint Discriminator of the wanted identity.
    pub epd: &'a [u8],
    /// Initiator's tag, echoed in RHello and Redirect.
    pub tag: &'a [u8],
}

/// Forwarded Initiator Hello (§2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FIHello<'a> {
    /// Endpoint Discriminator copied from the IHello.
    pub epd: &'a [u8],
    /// Where the receiver should answer: the initiator's observed address.
    pub reply_address: Address,
    /// Tag copied from the IHello.
    pub tag: &'a [u8],
}

/// Responder Hello (§2.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RHello<'a> {
    /// The IHello's tag, unaltered.
    pub tag_echo: &'a [u8],
    /// Responder's cookie for the IIKeying.
    pub cookie: &'a [u8],
    /// Responder's certificate.
    pub certificate: &'a [u8],
}

/// Responder Redirect (§2.3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redirect<'a> {
    /// The IHello's tag, unaltered.
    pub tag_echo: &'a [u8],
    /// The redirect destinations; empty means an Implied Redirect to the
    /// packet's source address.
    pub addresses: AddressList<'a>,
}

/// RHello Cookie Change (§2.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieChange<'a> {
    /// The cookie sent in the earlier RHello and IIKeying.
    pub old_cookie: &'a [u8],
    /// The cookie to sign into a new IIKeying.
    pub new_cookie: &'a [u8],
}

/// Initiator Initial Keying (§2.3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IIKeying<'a> {
    /// Session ID the responder must use towards the initiator.
    pub initiator_session_id: u32,
    /// The RHello's cookie, unaltered.
    pub cookie_echo: &'a [u8],
    /// Initiator's certificate.
    pub certificate: &'a [u8],
    /// Session Key Initiator Component.
    pub skic: &'a [u8],
    /// Signature over the signed parameters.
    pub signature: &'a [u8],
}

impl<'a> IIKeying<'a> {
    /// Appends `initiatorSignedParameters` (everything before the signature).
    pub fn write_signed_parameters(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.initiator_session_id.to_be_bytes());
        put_vlu_bytes(self.cookie_echo, out);
        put_vlu_bytes(self.certificate, out);
        put_vlu_bytes(self.skic, out);
    }

    /// The signed parameters exactly as received in `payload`, the raw
    /// payload this chunk was decoded from.
    pub fn signed_parameters<'p>(&self, payload: &'p [u8]) -> &'p [u8] {
        &payload[..payload.len().saturating_sub(self.signature.len())]
    }
}

/// Responder Initial Keying (§2.3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RIKeying<'a> {
    /// Session ID the initiator must use towards the responder.
    pub responder_session_id: u32,
    /// Session Key Responder Component.
    pub skrc: &'a [u8],
    /// Signature over the signed portion followed by the SKIC.
    pub signature: &'a [u8],
}

impl<'a> RIKeying<'a> {
    /// Appends `responderSignedParametersPortion` (before the signature).
    pub fn write_signed_portion(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.responder_session_id.to_be_bytes());
        put_vlu_bytes(self.skrc, out);
    }

    /// The signed portion exactly as received in `payload`.
    pub fn signed_portion<'p>(&self, payload: &'p [u8]) -> &'p [u8] {
        &payload[..payload.len().saturating_sub(self.signature.len())]
    }
}

/// User Data (§2.3.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserData<'a> {
    /// FRA: where this fragment sits in its message.
    pub fragment: FragmentControl,
    /// ABN: the fragment is abandoned (its data is empty).
    pub abandon: bool,
    /// FIN: this is the flow's last sequence number.
    pub fin: bool,
    /// The sending flow's identifier.
    pub flow_id: u64,
    /// This fragment's sequence number (> 0).
    pub sequence_number: u64,
    /// `sequenceNumber - forwardSequenceNumber`.
    pub fsn_offset: u64,
    /// The options, if the OPT flag is set.
    pub options: Option<OptionList<'a>>,
    /// The fragment's bytes.
    pub data: &'a [u8],
}

impl<'a> UserData<'a> {
    /// The Forward Sequence Number: nothing at or below it will be sent.
    pub fn forward_sequence_number(&self) -> u64 {
        self.sequence_number - self.fsn_offset
    }

    /// The user's per-flow metadata option, if present (§2.3.11.1.1).
    pub fn metadata(&self) -> Option<&'a [u8]> {
        self.options.and_then(|o| o.find(OPTION_USER_METADATA))
    }

    /// The return flow association option, if present (§2.3.11.1.2).
    ///
    /// `Some(Err(_))` if the option is present but malformed.
    pub fn return_association(&self) -> Option<Result<u64>> {
        self.options
            .and_then(|o| o.find(OPTION_RETURN_ASSOCIATION))
            .map(super::option::value_as_vlu)
    }
}

/// Next User Data (§2.3.12): a User Data for the same flow and the next
/// sequence number, with the same Forward Sequence Number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextUserData<'a> {
    /// FRA: where this fragment sits in its message.
    pub fragment: FragmentControl,
    /// ABN: the fragment is abandoned.
    pub abandon: bool,
    /// FIN: this is the flow's last sequence number.
    pub fin: bool,
    /// The options, if the OPT flag is set.
    pub options: Option<OptionList<'a>>,
    /// The fragment's bytes.
    pub data: &'a [u8],
}

/// Data Acknowledgement Bitmap (§2.3.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitmapAck<'a> {
    /// The acknowledged flow.
    pub flow_id: u64,
    /// Receive window in 1024-byte blocks.
    pub buffer_blocks_available: u64,
    /// Every sequence number up to this one is received.
    pub cumulative_ack: u64,
    /// Bit `i` of byte `j` acknowledges `cumulative_ack + 2 + 8j + i`.
    pub bitmap: &'a [u8],
}

impl<'a> BitmapAck<'a> {
    /// The sequence numbers above `cumulative_ack` that the bitmap
    /// acknowledges, in increasing order.
    pub fn acknowledged(&self) -> impl Iterator<Item = u64> + 'a {
        let base = self.cumulative_ack + 2;
        self.bitmap.iter().enumerate().flat_map(move |(j, &byte)| {
            (0..8u64)
                .filter(move |bit| byte & (1 << bit) != 0)
                .map(move |bit| base + 8 * j as u64 + bit)
        })
    }
}

/// Data Acknowledgement Ranges (§2.3.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeAck<'a> {
    /// The acknowledged flow.
    pub flow_id: u64,
    /// Receive window in 1024-byte blocks.
    pub buffer_blocks_available: u64,
    /// Every sequence number up to this one is received.
    pub cumulative_ack: u64,
    /// The complete (holes-1, received-1) pairs; a truncated last pair is
    /// left out, as the §2.3.14 note requires.
    pub ranges: AckRanges<'a>,
}

/// Flow Exception Report (§2.3.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowException {
    /// The rejected flow.
    pub flow_id: u64,
    /// Application exception code; 0 for automatic rejection.
    pub exception: u64,
}

/// A decoded chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// 0x7f Packet Fragment.
    Fragment(Fragment<'a>),
    /// 0x30 Initiator Hello.
    IHello(IHello<'a>),
    /// 0x0f Forwarded Initiator Hello.
    FIHello(FIHello<'a>),
    /// 0x70 Responder Hello.
    RHello(RHello<'a>),
    /// 0x71 Responder Redirect.
    Redirect(Redirect<'a>),
    /// 0x79 RHello Cookie Change.
    CookieChange(CookieChange<'a>),
    /// 0x38 Initiator Initial Keying.
    IIKeying(IIKeying<'a>),
    /// 0x78 Responder Initial Keying.
    RIKeying(RIKeying<'a>),
    /// 0x01 Ping with its message.
    Ping(&'a [u8]),
    /// 0x41 Ping Reply with the echoed message.
    PingReply(&'a [u8]),
    /// 0x10 User Data.
    UserData(UserData<'a>),
    /// 0x11 Next User Data.
    NextUserData(NextUserData<'a>),
    /// 0x50 Bitmap Ack.
    BitmapAck(BitmapAck<'a>),
    /// 0x51 Range Ack.
    RangeAck(RangeAck<'a>),
    /// 0x18 Buffer Probe for a flow ID.
    BufferProbe(u64),
    /// 0x5e Flow Exception Report.
    FlowException(FlowException),
    /// 0x0c Session Close Request.
    Close,
    /// 0x4c Session Close Acknowledgement.
    CloseAck,
    /// A chunk type this implementation does not know; §2.3 says ignore it.
    Unknown {
        /// The type code.
        chunk_type: u8,
        /// The raw payload.
        payload: &'a [u8],
    },
}

impl<'a> Chunk<'a> {
    /// Decodes a chunk payload of the given type.
    ///
    /// A malformed payload is an error; per §2.3 the caller ignores that
    /// chunk and goes on with the next one.
    pub fn decode(code: u8, payload: &'a [u8]) -> Result<Self> {
        use chunk_type as t;
        let mut r = Reader::new(payload);
        let chunk = match code {
            t::FRAGMENT => {
                let flags = r.u8()?;
                let packet_id = r.vlu()?;
                let fragment_num = r.vlu()?;
                let data = r.rest();
                if data.is_empty() {
                    return Err(WireError::InvalidValue);
                }
                Chunk::Fragment(Fragment {
                    more: flags & FRAGMENT_FLAG_MORE != 0,
                    packet_id,
                    fragment_num,
                    data,
                })
            }
            t::IHELLO => Chunk::IHello(IHello {
                epd: r.vlu_bytes()?,
                tag: r.rest(),
            }),
            t::FIHELLO => Chunk::FIHello(FIHello {
                epd: r.vlu_bytes()?,
                reply_address: Address::read(&mut r)?,
                tag: r.rest(),
            }),
            t::RHELLO => Chunk::RHello(RHello {
                tag_echo: r.vlu_bytes()?,
                cookie: r.vlu_bytes()?,
                certificate: r.rest(),
            }),
            t::REDIRECT => Chunk::Redirect(Redirect {
                tag_echo: r.vlu_bytes()?,
                addresses: AddressList::parse(r.rest())?,
            }),
            t::COOKIE_CHANGE => Chunk::CookieChange(CookieChange {
                old_cookie: r.vlu_bytes()?,
                new_cookie: r.rest(),
            }),
            t::IIKEYING => Chunk::IIKeying(IIKeying {
                initiator_session_id: r.u32()?,
                cookie_echo: r.vlu_bytes()?,
                certificate: r.vlu_bytes()?,
                skic: r.vlu_bytes()?,
                signature: r.rest(),
            }),
            t::RIKEYING => Chunk::RIKeying(RIKeying {
                responder_session_id: r.u32()?,
                skrc: r.vlu_bytes()?,
                signature: r.rest(),
            }),
            t::PING => Chunk::Ping(r.rest()),
            t::PING_REPLY => Chunk::PingReply(r.rest()),
            t::USER_DATA => {
                let flags = r.u8()?;
                let flow_id = r.vlu()?;
                let sequence_number = r.vlu()?;
                let fsn_offset = r.vlu()?;
                let abandon = flags & UD_FLAG_ABN != 0;
                // §2.3.11: sequence numbers start above 0; the offset is
                // never greater than the sequence number, nor 0 unless
                // the fragment is abandoned.
                if sequence_number == 0
                    || fsn_offset > sequence_number
                    || (fsn_offset == 0 && !abandon)
                {
                    return Err(WireError::InvalidValue);
                }
                let options = read_user_data_options(flags, &mut r)?;
                Chunk::UserData(UserData {
                    fragment: FragmentControl::from_flags(flags),
                    abandon,
                    fin: flags & UD_FLAG_FIN != 0,
                    flow_id,
                    sequence_number,
                    fsn_offset,
                    options,
                    data: r.rest(),
                })
            }
            t::NEXT_USER_DATA => {
                let flags = r.u8()?;
                let options = read_user_data_options(flags, &mut r)?;
                Chunk::NextUserData(NextUserData {
                    fragment: FragmentControl::from_flags(flags),
                    abandon: flags & UD_FLAG_ABN != 0,
                    fin: flags & UD_FLAG_FIN != 0,
                    options,
                    data: r.rest(),
                })
            }
            t::BITMAP_ACK => {
                let flow_id = r.vlu()?;
                let buffer_blocks_available = r.vlu()?;
                let cumulative_ack = r.vlu()?;
                let bitmap = r.rest();
                // The highest acknowledged number must fit in a u64.
                let span = (bitmap.len() as u64).checked_mul(8);
                if span
                    .and_then(|s| cumulative_ack.checked_add(s + 1))
                    .is_none()
                {
                    return Err(WireError::InvalidValue);
                }
                Chunk::BitmapAck(BitmapAck {
                    flow_id,
                    buffer_blocks_available,
                    cumulative_ack,
                    bitmap,
                })
            }
            t::RANGE_ACK => {
                let flow_id = r.vlu()?;
                let buffer_blocks_available = r.vlu()?;
                let cumulative_ack = r.vlu()?;
                let ranges = AckRanges::parse(cumulative_ack, r.rest())?;
                Chunk::RangeAck(RangeAck {
                    flow_id,
                    buffer_blocks_available,
                    cumulative_ack,
                    ranges,
                })
            }
            t::BUFFER_PROBE => {
                let flow_id = r.vlu()?;
                r.finish()?;
                Chunk::BufferProbe(flow_id)
            }
            t::FLOW_EXCEPTION => {
                let flow_id = r.vlu()?;
                let exception = r.vlu()?;
                r.finish()?;
                Chunk::FlowException(FlowException { flow_id, exception })
            }
            t::CLOSE => Chunk::Close,
            t::CLOSE_ACK => Chunk::CloseAck,
            other => Chunk::Unknown {
                chunk_type: other,
                payload,
            },
        };
        Ok(chunk)
    }

    /// The chunk's type code.
    pub fn chunk_type(&self) -> u8 {
        use chunk_type as t;
        match self {
            Chunk::Fragment(_) => t::FRAGMENT,
            Chunk::IHello(_) => t::IHELLO,
            Chunk::FIHello(_) => t::FIHELLO,
            Chunk::RHello(_) => t::RHELLO,
            Chunk::Redirect(_) => t::REDIRECT,
            Chunk::CookieChange(_) => t::COOKIE_CHANGE,
            Chunk::IIKeying(_) => t::IIKEYING,
            Chunk::RIKeying(_) => t::RIKEYING,
            Chunk::Ping(_) => t::PING,
            Chunk::PingReply(_) => t::PING_REPLY,
            Chunk::UserData(_) => t::USER_DATA,
            Chunk::NextUserData(_) => t::NEXT_USER_DATA,
            Chunk::BitmapAck(_) => t::BITMAP_ACK,
            Chunk::RangeAck(_) => t::RANGE_ACK,
            Chunk::BufferProbe(_) => t::BUFFER_PROBE,
            Chunk::FlowException(_) => t::FLOW_EXCEPTION,
            Chunk::Close => t::CLOSE,
            Chunk::CloseAck => t::CLOSE_ACK,
            Chunk::Unknown { chunk_type, .. } => *chunk_type,
        }
    }

    /// Appends the chunk payload (without the chunk header) to `out`.
    pub fn encode_payload(&self, out: &mut Vec<u8>) {
        match self {
            Chunk::Fragment(f) => {
                out.push(if f.more { FRAGMENT_FLAG_MORE } else { 0 });
                vlu::encode(f.packet_id, out);
                vlu::encode(f.fragment_num, out);
                out.extend_from_slice(f.data);
            }
            Chunk::IHello(c) => {
                put_vlu_bytes(c.epd, out);
                out.extend_from_slice(c.tag);
            }
            Chunk::FIHello(c) => {
                put_vlu_bytes(c.epd, out);
                c.reply_address.encode(out);
                out.extend_from_slice(c.tag);
            }
            Chunk::RHello(c) => {
                put_vlu_bytes(c.tag_echo, out);
                put_vlu_bytes(c.cookie, out);
                out.extend_from_slice(c.certificate);
            }
            Chunk::Redirect(c) => {
                put_vlu_bytes(c.tag_echo, out);
                out.extend_from_slice(c.addresses.raw());
            }
            Chunk::CookieChange(c) => {
                put_vlu_bytes(c.old_cookie, out);
                out.extend_from_slice(c.new_cookie);
            }
            Chunk::IIKeying(c) => {
                c.write_signed_parameters(out);
                out.extend_from_slice(c.signature);
            }
            Chunk::RIKeying(c) => {
                c.write_signed_portion(out);
                out.extend_from_slice(c.signature);
            }
            Chunk::Ping(m) | Chunk::PingReply(m) => out.extend_from_slice(m),
            Chunk::UserData(c) => {
                out.push(user_data_flags(
                    c.fragment,
                    c.abandon,
                    c.fin,
                    c.options.is_some(),
                ));
                vlu::encode(c.flow_id, out);
                vlu::encode(c.sequence_number, out);
                vlu::encode(c.fsn_offset, out);
                if let Some(options) = c.options {
                    options.encode(out);
                }
                out.extend_from_slice(c.data);
            }
            Chunk::NextUserData(c) => {
                out.push(user_data_flags(
                    c.fragment,
                    c.abandon,
                    c.fin,
                    c.options.is_some(),
                ));
                if let Some(options) = c.options {
                    options.encode(out);
                }
                out.extend_from_slice(c.data);
            }
            Chunk::BitmapAck(c) => {
                vlu::encode(c.flow_id, out);
                vlu::encode(c.buffer_blocks_available, out);
                vlu::encode(c.cumulative_ack, out);
                out.extend_from_slice(c.bitmap);
            }
            Chunk::RangeAck(c) => {
                vlu::encode(c.flow_id, out);
                vlu::encode(c.buffer_blocks_available, out);
                vlu::encode(c.cumulative_ack, out);
                out.extend_from_slice(c.ranges.raw());
            }
            Chunk::BufferProbe(flow_id) => vlu::encode(*flow_id, out),
            Chunk::FlowException(c) => {
                vlu::encode(c.flow_id, out);
                vlu::encode(c.exception, out);
            }
            Chunk::Close | Chunk::CloseAck => {}
            Chunk::Unknown { payload, .. } => out.extend_from_slice(payload),
        }
    }

    /// Appends the whole chunk (type, length, payload) to `out`.
    ///
    /// Fails with [`WireError::TooLarge`], leaving `out` unchanged, if the
    /// payload exceeds 65535 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let mark = out.len();
        out.extend_from_slice(&[self.chunk_type(), 0, 0]);
        self.encode_payload(out);
        let len = out.len() - mark - CHUNK_HEADER_LEN;
        if len > MAX_CHUNK_PAYLOAD {
            out.truncate(mark);
            return Err(WireError::TooLarge);
        }
        out[mark + 1..mark + 3].copy_from_slice(&(len as u16).to_be_bytes());
        Ok(())
    }

    /// Whether §2.2.4 allows this chunk in a packet of `mode`.
    pub fn allowed_in(&self, mode: super::Mode) -> bool {
        chunk_allowed_in(self.chunk_type(), mode)
    }
}

/// Whether §2.2.4 allows a chunk type in a packet of `mode`.
///
/// Startup chunks need mode 3; session chunks need modes 1 or 2.  Packet
/// Fragments carry a whole packet of their own and are allowed in any mode.
pub fn chunk_allowed_in(chunk_type: u8, mode: super::Mode) -> bool {
    if chunk_type == chunk_type::FRAGMENT {
        return true;
    }
    chunk_type::is_startup(chunk_type) == (mode == super::Mode::Startup)
}

fn user_data_flags(fragment: FragmentControl, abandon: bool, fin: bool, options: bool) -> u8 {
    let mut flags = fragment.bits();
    if options {
        flags |= UD_FLAG_OPT;
    }
    if abandon {
        flags |= UD_FLAG_ABN;
    }
    if fin {
        flags |= UD_FLAG_FIN;
    }
    flags
}

fn read_user_data_options<'a>(flags: u8, r: &mut Reader<'a>) -> Result<Option<OptionList<'a>>> {
    if flags & UD_FLAG_OPT != 0 {
        Ok(Some(OptionList::parse(r)?))
    } else {
        Ok(None)
    }
}

/// A validated run of addresses (the tail of a Redirect, §2.3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressList<'a> {
    raw: &'a [u8],
}

impl<'a> AddressList<'a> {
    /// Checks that `raw` is a whole number of addresses.
    pub fn parse(raw: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(raw);
        while !r.is_empty() {
            Address::read(&mut r)?;
        }
        Ok(AddressList { raw })
    }

    /// Encodes addresses into a buffer that [`AddressList::parse`] accepts.
    pub fn encode(addresses: &[Address]) -> Vec<u8> {
        let mut out = Vec::new();
        for a in addresses {
            a.encode(&mut out);
        }
        out
    }

    /// The encoded addresses.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Whether the list is empty (an Implied Redirect).
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Iterates over the addresses.
    pub fn iter(&self) -> impl Iterator<Item = Address> + 'a {
        let mut r = Reader::new(self.raw);
        std::iter::from_fn(move || {
            if r.is_empty() {
                None
            } else {
                Address::read(&mut r).ok()
            }
        })
    }
}

/// Validated (holes-1, received-1) pairs of a Range Ack (§2.3.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckRanges<'a> {
    cumulative_ack: u64,
    raw: &'a [u8],
}

impl<'a> AckRanges<'a> {
    /// Validates the pairs after `cumulative_ack`.  A truncated final pair
    /// is dropped rather than failing the chunk (§2.3.14 note); a range
    /// beyond 2^64 - 1 is [`WireError::InvalidValue`].
    pub fn parse(cumulative_ack: u64, bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let mut complete = 0;
        let mut cursor = cumulative_ack;
        while !r.is_empty() {
            let (Ok(holes), Ok(received)) = (r.vlu(), r.vlu()) else {
                break;
            };
            let (_, to) = range_after(cursor, holes, received).ok_or(WireError::InvalidValue)?;
            cursor = to;
            complete = bytes.len() - r.remaining();
        }
        Ok(AckRanges {
            cumulative_ack,
            raw: &bytes[..complete],
        })
    }

    /// The encoded pairs.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The received ranges, inclusive, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + 'a {
        let mut r = Reader::new(self.raw);
        let mut cursor = self.cumulative_ack;
        std::iter::from_fn(move || {
            let holes = r.vlu().ok()?;
            let received = r.vlu().ok()?;
            let range = range_after(cursor, holes, received)?;
            cursor = range.1;
            Some(range)
        })
    }
}

/// The received range that a (holes-1, received-1) pair describes after
/// `cursor`, per the §2.3.14 pseudocode.
fn range_after(cursor: u64, holes_minus_one: u64, received_minus_one: u64) -> Option<(u64, u64)> {
    let from = cursor
        .checked_add(1)?
        .checked_add(holes_minus_one)?
        .checked_add(1)?;
    let to = from.checked_add(received_minus_one)?;
    Some((from, to))
}

#[cfg(test)]
mod tests;
