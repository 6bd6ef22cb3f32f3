//! Sending the messages of one RTMP stream on RTMFP flows
//! (RFC 7425 §5.1.1, §5.3.5, §5.4.2).
//!
//! One [`StreamSender`] owns the sending flows of one stream ID on one
//! session, all with "TC" metadata for that stream ID and the same return
//! association:
//!
//! - a **data** flow for commands, status events, user control and data
//!   messages, in original queuing order and fully reliable;
//! - an **audio** flow at a higher priority than video ("the audio to be
//!   given higher transmission priority", §5.1.1), whose messages are
//!   abandoned when not delivered within [`MediaConfig::audio_lifetime`];
//! - a **video** flow whose frames are abandoned when not delivered within
//!   [`MediaConfig::video_lifetime`], with every inter frame chained
//!   (`parent`) to the key frame it depends on, so that late frames are
//!   dropped rather than queued behind the network.
//!
//! Codec configuration (AVC and AAC sequence headers) is sent reliably.
//! Flows open lazily on their first message.  If the far end rejects any
//! of them, the sender stops for good: §5.3.5.3 says not to open a new
//! flow in a rejected one's place.

use super::message::{encode_parts, message_type};
use super::metadata::{FlowMetadata, ReceiveIntent};
use super::user_control::UserControlEvent;
use crate::endpoint::{Endpoint, EndpointError, SessionHandle};
use crate::flow::{FlowId, MessageId, MessageOptions, Priority};
use crate::session::flows::FlowError;
use std::time::{Duration, Instant};

/// Priorities and lifetimes of a stream's flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaConfig {
    /// Priority of the data flow (commands, status, data messages).
    pub data_priority: Priority,
    /// Priority of the audio flow; above video (RFC 7425 §5.1.1).
    pub audio_priority: Priority,
    /// Priority of the video flow.
    pub video_priority: Priority,
    /// Abandon an audio message not delivered within this long (§5.1.1's
    /// example is one second); `None` keeps it until delivered.
    pub audio_lifetime: Option<Duration>,
    /// Abandon a video frame not delivered within this long; `None` keeps
    /// it until delivered.
    pub video_lifetime: Option<Duration>,
    /// Chain inter frames to their key frame, so that an abandoned key
    /// frame abandons its group of pictures.
    pub chain_gop: bool,
    /// The receive intent hinted on the audio flow (§5.1.1): network
    /// arrival order lowers latency; original order is the default.
    pub audio_receive_intent: ReceiveIntent,
}

impl Default for MediaConfig {
    /// Data Routine, audio Immediate, video Priority; audio and video
    /// frames live 1 s; GOP chaining on; audio in original order.
    fn default() -> Self {
        MediaConfig {
            data_priority: Priority::Routine,
            audio_priority: Priority::Immediate,
            video_priority: Priority::Priority,
            audio_lifetime: Some(Duration::from_secs(1)),
            video_lifetime: Some(Duration::from_secs(1)),
            chain_gop: true,
            audio_receive_intent: ReceiveIntent::OriginalOrder,
        }
    }
}

/// Which flow of a stream a message goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Commands, status, user control and data messages.
    Data,
    /// Audio (type 8).
    Audio,
    /// Video (type 9).
    Video,
}

impl Lane {
    /// The lane of an RTMP message type.
    pub fn of(message_type: u8) -> Lane {
        match message_type {
            message_type::AUDIO => Lane::Audio,
            message_type::VIDEO => Lane::Video,
            _ => Lane::Data,
        }
    }
}

/// An RTMP message (RFC 7425 §5.1: type, timestamp, payload) in a shared
/// buffer, for [`StreamSender::send_encoded`].
pub fn encode_shared(
    message_type: u8,
    timestamp: u32,
    payload: &[u8],
) -> Result<bytes::Bytes, EndpointError> {
    let mut out = Vec::new();
    encode_parts(message_type, timestamp, payload, &mut out)
        .map_err(|_| EndpointError::InvalidArgument("payload over 16777215 bytes"))?;
    Ok(bytes::Bytes::from(out))
}

/// Whether an FLV video tag body is a key frame (frame type 1 or 4).
pub fn is_video_keyframe(payload: &[u8]) -> bool {
    matches!(payload.first().map(|b| b >> 4), Some(1 | 4))
}

/// Whether a video or audio tag body is codec configuration that every
/// later frame needs: an AVC sequence header (codec 7, packet type 0) or
/// an AAC sequence header (format 10, packet type 0).
pub fn is_sequence_header(message_type: u8, payload: &[u8]) -> bool {
    match (message_type, payload) {
        (message_type::VIDEO, [b0, 0, ..]) => b0 & 0x0f == 7,
        (message_type::AUDIO, [b0, 0, ..]) => b0 >> 4 == 10,
        _ => false,
    }
}

/// Counters of one sender.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Audio messages queued.
    pub audio: u64,
    /// Video messages queued.
    pub video: u64,
    /// Other messages queued.
    pub data: u64,
    /// Payload bytes queued.
    pub bytes: u64,
}

impl SenderStats {
    /// Audio and video messages queued.
    pub fn media(&self) -> u64 {
        self.audio + self.video
    }
}

/// The sending flows of one stream ID on one session.
#[derive(Debug)]
pub struct StreamSender {
    session: SessionHandle,
    stream_id: u32,
    association: Option<FlowId>,
    config: MediaConfig,
    data: Option<FlowId>,
    audio: Option<FlowId>,
    video: Option<FlowId>,
    keyframe: Option<MessageId>,
    failed: bool,
    closed: bool,
    stats: SenderStats,
}

impl StreamSender {
    /// A sender for `stream_id` on `session`, its flows associated to
    /// the far end's flow `association` (RFC 7425 §5.3.5, §5.4.2).
    pub fn new(
        session: SessionHandle,
        stream_id: u32,
        association: Option<FlowId>,
        config: MediaConfig,
    ) -> StreamSender {
        StreamSender {
            session,
            stream_id,
            association,
            config,
            data: None,
            audio: None,
            video: None,
            keyframe: None,
            failed: false,
            closed: false,
            stats: SenderStats::default(),
        }
    }

    /// The session.
    pub fn session(&self) -> SessionHandle {
        self.session
    }

    /// The RTMP stream ID of the flows.
    pub fn stream_id(&self) -> u32 {
        self.stream_id
    }

    /// Counters.
    pub fn stats(&self) -> SenderStats {
        self.stats
    }

    /// Whether the far end rejected one of the flows (the sender is dead).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Whether `flow` is one of this sender's flows.
    pub fn owns(&self, flow: FlowId) -> bool {
        [self.data, self.audio, self.video].contains(&Some(flow))
    }

    /// The data flow, opened if needed.
    pub fn data_flow(&mut self, ep: &mut Endpoint) -> Result<FlowId, EndpointError> {
        self.flow(ep, Lane::Data)
    }

    fn flow(&mut self, ep: &mut Endpoint, lane: Lane) -> Result<FlowId, EndpointError> {
        if self.failed || self.closed {
            return Err(EndpointError::Flow(FlowError::Closed));
        }
        let slot = match lane {
            Lane::Data => &mut self.data,
            Lane::Audio => &mut self.audio,
            Lane::Video => &mut self.video,
        };
        if let Some(flow) = *slot {
            return Ok(flow);
        }
        let (priority, intent) = match lane {
            Lane::Data => (self.config.data_priority, ReceiveIntent::OriginalOrder),
            Lane::Audio => (self.config.audio_priority, self.config.audio_receive_intent),
            Lane::Video => (self.config.video_priority, ReceiveIntent::OriginalOrder),
        };
        let metadata = FlowMetadata::new(self.stream_id, intent)
            .to_bytes()
            .map_err(|_| EndpointError::InvalidArgument("stream ID over 16777215"))?;
        let flow = ep.open_flow(self.session, &metadata, priority, self.association)?;
        *slot = Some(flow);
        Ok(flow)
    }

    /// Queues one RTMP message on the flow for its type, with the
    /// lifetime and chaining rules of [`MediaConfig`].
    pub fn send(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        message_type: u8,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<MessageId, EndpointError> {
        let encoded = encode_shared(message_type, timestamp, payload)?;
        self.send_encoded(ep, now, message_type, payload, encoded)
    }

    /// Queues one RTMP message already encoded (by [`encode_shared`] from
    /// `message_type`, its timestamp and `payload`) in a shared
    /// buffer: a server relaying one message to many players encodes it
    /// once, and every player's flow holds the same bytes.
    pub fn send_encoded(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        message_type: u8,
        payload: &[u8],
        encoded: bytes::Bytes,
    ) -> Result<MessageId, EndpointError> {
        let lane = Lane::of(message_type);
        let flow = self.flow(ep, lane)?;
        let reliable = is_sequence_header(message_type, payload);
        let mut options = MessageOptions::default();
        let mut is_key = false;
        match lane {
            Lane::Data => {}
            Lane::Audio if !reliable => options.finish_within = self.config.audio_lifetime,
            Lane::Audio => {}
            Lane::Video => {
                let frame_type = payload.first().map(|b| b >> 4);
                is_key = is_video_keyframe(payload) && !reliable;
                // Info/command frames (type 5) and codec configuration
                // are neither chained nor expired.
                if !reliable && frame_type != Some(5) {
                    options.finish_within = self.config.video_lifetime;
                    if !is_key && self.config.chain_gop {
                        options.parent = self.keyframe;
                    }
                }
            }
        }
        let id = ep.send_shared(now, self.session, flow, encoded, options)?;
        if is_key {
            self.keyframe = Some(id);
        }
        match lane {
            Lane::Audio => self.stats.audio += 1,
            Lane::Video => self.stats.video += 1,
            Lane::Data => self.stats.data += 1,
        }
        self.stats.bytes += payload.len() as u64;
        Ok(id)
    }

    /// Puts a Flow Synchronization barrier `sync_id` on this sender's
    /// flows (RFC 7425 §5.2), so that what goes on any of them next is
    /// processed after everything queued before on all of them: for
    /// example a status that ends the stream after its last media.  Opens
    /// the data flow first (where statuses go), and sends
    /// `Sync(sync_id, n)` on each of the `n` open flows, reliably; with
    /// one flow there is nothing to order and nothing is sent.  Returns
    /// `n`, or 0.
    pub fn sync(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        sync_id: u32,
    ) -> Result<usize, EndpointError> {
        self.data_flow(ep)?;
        let flows: Vec<FlowId> = [self.data, self.audio, self.video]
            .into_iter()
            .flatten()
            .collect();
        if flows.len() < 2 {
            return Ok(0);
        }
        let count = flows.len() as u32;
        let message = UserControlEvent::FlowSync { sync_id, count }
            .to_message(0)
            .to_bytes()
            .map_err(|_| EndpointError::InvalidArgument("flow sync message"))?;
        for flow in &flows {
            ep.send(
                now,
                self.session,
                *flow,
                &message,
                MessageOptions::default(),
            )?;
        }
        Ok(flows.len())
    }

    /// Notes that the far end rejected `flow`; returns whether it was one
    /// of ours.  The sender is then dead (§5.3.5.3).
    pub fn on_rejected(&mut self, flow: FlowId) -> bool {
        let ours = self.owns(flow);
        if ours {
            self.failed = true;
        }
        ours
    }

    /// Closes every flow (§5.3.5.3, §5.3.6); no more messages go out.
    pub fn close(&mut self, ep: &mut Endpoint, now: Instant) {
        if self.closed {
            return;
        }
        self.closed = true;
        for flow in [self.data, self.audio, self.video].into_iter().flatten() {
            let _ = ep.close_flow(now, self.session, flow);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_classes() {
        assert!(is_video_keyframe(&[0x17, 1]));
        assert!(is_video_keyframe(&[0x42]));
        assert!(!is_video_keyframe(&[0x27, 1]));
        assert!(!is_video_keyframe(&[]));
        assert!(is_sequence_header(9, &[0x17, 0, 0, 0, 0]));
        assert!(!is_sequence_header(9, &[0x17, 1]));
        assert!(is_sequence_header(8, &[0xaf, 0]));
        assert!(!is_sequence_header(8, &[0xaf, 1]));
        assert!(!is_sequence_header(8, &[0x2f, 0]));
        assert_eq!(Lane::of(8), Lane::Audio);
        assert_eq!(Lane::of(9), Lane::Video);
        assert_eq!(Lane::of(18), Lane::Data);
        assert_eq!(Lane::of(20), Lane::Data);
    }
}
