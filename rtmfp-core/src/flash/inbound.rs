//! Classifying RTMP messages received on flows (RFC 7425 §5.1.2).

use super::command::Command;
use super::message::{Message, MessageKind};
use super::user_control::UserControlEvent;
use super::Result;

/// What a received flow message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// A command (type 20 or 17).
    Command {
        /// The message type (20 or 17).
        message_type: u8,
        /// The RTMP timestamp.
        timestamp: u32,
        /// The decoded command.
        command: Command,
    },
    /// A user control event (type 4).
    UserControl(UserControlEvent),
    /// Audio, video, data or any other message, kept as bytes.
    Media {
        /// The RTMP message type.
        message_type: u8,
        /// The RTMP timestamp.
        timestamp: u32,
        /// The payload.
        payload: Vec<u8>,
    },
    /// A chunk stream control message (types 1, 2, 3, 5, 6): RFC 7425 §5.1
    /// says it MUST be ignored.
    Ignored,
}

/// Decodes a flow message.  Malformed messages are an error for that
/// message only.
pub fn classify(flow_message: &[u8]) -> Result<Inbound> {
    let message = Message::parse(flow_message)?;
    Ok(match message.kind() {
        MessageKind::ChunkControl => Inbound::Ignored,
        MessageKind::Command => Inbound::Command {
            message_type: message.message_type,
            timestamp: message.timestamp,
            command: Command::from_message(&message)?,
        },
        MessageKind::UserControl => Inbound::UserControl(UserControlEvent::from_message(&message)?),
        _ => Inbound::Media {
            message_type: message.message_type,
            timestamp: message.timestamp,
            payload: message.payload.into_owned(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(classify(&[1, 0, 0, 0, 0, 0, 0, 0, 1]), Ok(Inbound::Ignored));
        let m = classify(&[8, 0, 0, 1, 0, 0xaf, 1]).unwrap();
        assert_eq!(
            m,
            Inbound::Media {
                message_type: 8,
                timestamp: 256,
                payload: vec![0xaf, 1]
            }
        );
        let uc = UserControlEvent::StreamBegin { stream_id: 3 }.to_message(0);
        assert_eq!(
            classify(&uc.to_bytes().unwrap()),
            Ok(Inbound::UserControl(UserControlEvent::StreamBegin {
                stream_id: 3
            }))
        );
        assert!(classify(&[20, 0, 0, 0, 0, 5]).is_err());
        assert!(classify(&[20, 0]).is_err());
    }
}
