//! NetConnection and NetStream commands (rtmp-1.0 commands part §4,
//! RFC 7425 §5.3.3).
//!
//! A command is `(name, transaction ID, command object, args...)`:
//! - type 20 (AMF0 Command): the values in AMF0;
//! - type 17 (AMF3 Command Extended): a format selector byte, which MUST
//!   be 0, then the values in AMF0, each of which may switch to AMF3 with
//!   the avmplus-object-marker (wrap it in [`Value::Avmplus`]).
//!
//! Data messages (18 AMF0, 15 AMF3) use the same body layouts without the
//! command structure: see [`decode_values`] and [`encode_values`].

use super::amf::{amf0, Value};
use super::message::{message_type, Message};
use super::{FlashError, Result};
use std::net::SocketAddr;

/// Well-known command names.
pub mod name {
    /// NetConnection connect.
    pub const CONNECT: &str = "connect";
    /// Successful transaction response.
    pub const RESULT: &str = "_result";
    /// Failed transaction response.
    pub const ERROR: &str = "_error";
    /// Status event.
    pub const ON_STATUS: &str = "onStatus";
    /// NetConnection createStream.
    pub const CREATE_STREAM: &str = "createStream";
    /// NetStream publish.
    pub const PUBLISH: &str = "publish";
    /// NetStream play.
    pub const PLAY: &str = "play";
    /// NetStream deleteStream.
    pub const DELETE_STREAM: &str = "deleteStream";
    /// NetStream closeStream.
    pub const CLOSE_STREAM: &str = "closeStream";
    /// NetConnection close.
    pub const CLOSE: &str = "close";
    /// RFC 7425 §5.3.3 candidate addresses.
    pub const SET_PEER_INFO: &str = "setPeerInfo";
    /// NetStream receiveAudio.
    pub const RECEIVE_AUDIO: &str = "receiveAudio";
    /// NetStream receiveVideo.
    pub const RECEIVE_VIDEO: &str = "receiveVideo";
}

/// Status levels of info objects.
pub mod level {
    /// Informational status.
    pub const STATUS: &str = "status";
    /// Warning.
    pub const WARNING: &str = "warning";
    /// Error.
    pub const ERROR: &str = "error";
}

/// Common status codes of info objects.
pub mod code {
    /// The connect was accepted.
    pub const CONNECT_SUCCESS: &str = "NetConnection.Connect.Success";
    /// The connect failed.
    pub const CONNECT_FAILED: &str = "NetConnection.Connect.Failed";
    /// The connect was rejected (for example a bad developer key).
    pub const CONNECT_REJECTED: &str = "NetConnection.Connect.Rejected";
    /// The connection closed.
    pub const CONNECT_CLOSED: &str = "NetConnection.Connect.Closed";
    /// Publishing started.
    pub const PUBLISH_START: &str = "NetStream.Publish.Start";
    /// The publish name is in use or invalid.
    pub const PUBLISH_BAD_NAME: &str = "NetStream.Publish.BadName";
    /// Playback reset the playlist.
    pub const PLAY_RESET: &str = "NetStream.Play.Reset";
    /// Playback started.
    pub const PLAY_START: &str = "NetStream.Play.Start";
    /// Playback stopped.
    pub const PLAY_STOP: &str = "NetStream.Play.Stop";
    /// The stream to play does not exist.
    pub const PLAY_STREAM_NOT_FOUND: &str = "NetStream.Play.StreamNotFound";
    /// Playback failed.
    pub const PLAY_FAILED: &str = "NetStream.Play.Failed";
    /// Publishing stopped.
    pub const UNPUBLISH_SUCCESS: &str = "NetStream.Unpublish.Success";
    /// A peer-to-peer subscriber connected to a publisher.
    pub const CONNECT_SUCCESS_STREAM: &str = "NetStream.Connect.Success";
    /// A peer-to-peer subscriber was refused.
    pub const CONNECT_REJECTED_STREAM: &str = "NetStream.Connect.Rejected";
    /// A peer-to-peer stream connection closed.
    pub const CONNECT_CLOSED_STREAM: &str = "NetStream.Connect.Closed";
    /// A peer-to-peer stream connection could not be made.
    pub const CONNECT_FAILED_STREAM: &str = "NetStream.Connect.Failed";
    /// A stream failed for a reason no other code covers.
    pub const STREAM_FAILED: &str = "NetStream.Failed";
    /// The stream being played started being published.
    pub const PLAY_PUBLISH_NOTIFY: &str = "NetStream.Play.PublishNotify";
    /// The stream being played stopped being published.
    pub const PLAY_UNPUBLISH_NOTIFY: &str = "NetStream.Play.UnpublishNotify";
    /// A `NetConnection.call` failed on the server.
    pub const CALL_FAILED: &str = "NetConnection.Call.Failed";
}

/// The object encoding negotiated by `connect` (its `objectEncoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ObjectEncoding {
    /// kAMF0 = 0: commands go as type 20.
    #[default]
    Amf0,
    /// kAMF3 = 3: commands go as type 17.
    Amf3,
}

impl ObjectEncoding {
    /// The `objectEncoding` number.
    pub fn number(self) -> f64 {
        match self {
            ObjectEncoding::Amf0 => 0.0,
            ObjectEncoding::Amf3 => 3.0,
        }
    }

    /// The encoding of an `objectEncoding` number (3 is AMF3, anything
    /// else AMF0).
    pub fn from_number(n: f64) -> ObjectEncoding {
        if n == 3.0 {
            ObjectEncoding::Amf3
        } else {
            ObjectEncoding::Amf0
        }
    }

    /// The command message type to use (§5.3.3): 20 for AMF0, 17 for AMF3.
    pub fn command_type(self) -> u8 {
        match self {
            ObjectEncoding::Amf0 => message_type::COMMAND_AMF0,
            ObjectEncoding::Amf3 => message_type::COMMAND_AMF3,
        }
    }

    /// The data message type to use: 18 for AMF0, 15 for AMF3.
    pub fn data_type(self) -> u8 {
        match self {
            ObjectEncoding::Amf0 => message_type::DATA_AMF0,
            ObjectEncoding::Amf3 => message_type::DATA_AMF3,
        }
    }
}

/// The AMF0 body of a command or data payload of `message_type`: the
/// payload itself for 18 and 20, after the format selector for 15 and 17.
fn amf0_body(message_type: u8, payload: &[u8]) -> Result<&[u8]> {
    match message_type {
        message_type::COMMAND_AMF0 | message_type::DATA_AMF0 => Ok(payload),
        message_type::COMMAND_AMF3 | message_type::DATA_AMF3 => match payload.split_first() {
            Some((0, rest)) => Ok(rest),
            Some((&other, _)) => Err(FlashError::BadFormatSelector(other)),
            None => Err(FlashError::Truncated),
        },
        other => Err(FlashError::WrongMessageType(other)),
    }
}

/// Starts a payload of `message_type` (20, 18: nothing; 17, 15: the
/// format selector 0).
fn start_body(message_type: u8, out: &mut Vec<u8>) -> Result<()> {
    match message_type {
        message_type::COMMAND_AMF0 | message_type::DATA_AMF0 => Ok(()),
        message_type::COMMAND_AMF3 | message_type::DATA_AMF3 => {
            out.push(0);
            Ok(())
        }
        other => Err(FlashError::WrongMessageType(other)),
    }
}

/// Decodes the values of a command or data payload (types 15, 17, 18,
/// 20), with one set of reference tables for the message.
pub fn decode_values(message_type: u8, payload: &[u8]) -> Result<Vec<Value>> {
    Ok(amf0::decode_all(amf0_body(message_type, payload)?)?)
}

/// Encodes values as a command or data payload (types 15, 17, 18, 20).
pub fn encode_values(message_type: u8, values: &[Value]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    start_body(message_type, &mut out)?;
    let mut e = amf0::Encoder::new();
    for v in values {
        e.encode(v, &mut out)?;
    }
    Ok(out)
}

/// A command: `(name, transaction ID, command object, args...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The command (or response) name.
    pub name: String,
    /// The transaction ID; 0 when no response is expected.
    pub transaction_id: f64,
    /// The command object, [`Value::Null`] when there is none.
    pub command_object: Value,
    /// Further arguments.
    pub args: Vec<Value>,
}

impl Command {
    /// A command from its parts.
    pub fn new(
        name: impl Into<String>,
        transaction_id: f64,
        command_object: Value,
        args: Vec<Value>,
    ) -> Command {
        Command {
            name: name.into(),
            transaction_id,
            command_object,
            args,
        }
    }

    /// A command from decoded values.  The first must be a string (the
    /// name); a missing transaction ID reads as 0 and a missing command
    /// object as null.
    pub fn from_values(values: Vec<Value>) -> Result<Command> {
        let mut it = values.into_iter();
        let name = match it.next() {
            Some(Value::String(s)) => s,
            Some(Value::Avmplus(v)) => match v.unwrap_avmplus() {
                Value::String(s) => s.clone(),
                _ => return Err(FlashError::NotACommand),
            },
            _ => return Err(FlashError::NotACommand),
        };
        let transaction_id = match it.next() {
            Some(v) => v.as_f64().ok_or(FlashError::NotACommand)?,
            None => 0.0,
        };
        let command_object = it.next().unwrap_or(Value::Null);
        Ok(Command {
            name,
            transaction_id,
            command_object,
            args: it.collect(),
        })
    }

    /// Decodes a command payload of type 20 or 17.
    pub fn decode(message_type: u8, payload: &[u8]) -> Result<Command> {
        match message_type {
            message_type::COMMAND_AMF0 | message_type::COMMAND_AMF3 => {
                Command::from_values(decode_values(message_type, payload)?)
            }
            other => Err(FlashError::WrongMessageType(other)),
        }
    }

    /// Decodes the command carried by a type 20 or 17 message.
    pub fn from_message(message: &Message<'_>) -> Result<Command> {
        Command::decode(message.message_type, &message.payload)
    }

    /// Appends the payload for message type 20 or 17 to `out`.
    pub fn encode_into(&self, message_type: u8, out: &mut Vec<u8>) -> Result<()> {
        if !matches!(
            message_type,
            message_type::COMMAND_AMF0 | message_type::COMMAND_AMF3
        ) {
            return Err(FlashError::WrongMessageType(message_type));
        }
        let start = out.len();
        let r = (|| {
            start_body(message_type, out)?;
            amf0::encode_string(&self.name, out)?;
            amf0::encode_number(self.transaction_id, out);
            let mut e = amf0::Encoder::new();
            e.encode(&self.command_object, out)?;
            for v in &self.args {
                e.encode(v, out)?;
            }
            Ok(())
        })();
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    /// The payload for message type 20 or 17.
    pub fn encode(&self, message_type: u8) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encode_into(message_type, &mut out)?;
        Ok(out)
    }

    /// A message of type 20 or 17 carrying this command.
    pub fn to_message(&self, message_type: u8, timestamp: u32) -> Result<Message<'static>> {
        let payload = self.encode(message_type)?;
        if payload.len() > super::message::MAX_U24 as usize {
            return Err(FlashError::TooLarge);
        }
        Ok(Message::new(message_type, timestamp, payload))
    }

    /// The argument at `index` (after the command object).
    pub fn arg(&self, index: usize) -> Option<&Value> {
        self.args.get(index)
    }

    /// Whether this is a `_result` response.
    pub fn is_result(&self) -> bool {
        self.name == name::RESULT
    }

    /// Whether this is an `_error` response.
    pub fn is_error(&self) -> bool {
        self.name == name::ERROR
    }

    // ----- builders -----

    /// `connect` (transaction ID 1) with a command object and optional
    /// user arguments.
    pub fn connect(command_object: &ConnectObject, args: Vec<Value>) -> Command {
        Command::new(name::CONNECT, 1.0, command_object.to_value(), args)
    }

    /// `_result` with properties and information objects (the connect
    /// response layout).
    pub fn result(transaction_id: f64, properties: Value, information: Value) -> Command {
        Command::new(name::RESULT, transaction_id, properties, vec![information])
    }

    /// `_error` with properties and information objects.
    pub fn error(transaction_id: f64, properties: Value, information: Value) -> Command {
        Command::new(name::ERROR, transaction_id, properties, vec![information])
    }

    /// `onStatus` (transaction ID 0, null command object) with an info
    /// object.
    pub fn on_status(info: &StatusInfo) -> Command {
        Command::new(name::ON_STATUS, 0.0, Value::Null, vec![info.to_value()])
    }

    /// `createStream` with a null command object.
    pub fn create_stream(transaction_id: f64) -> Command {
        Command::new(name::CREATE_STREAM, transaction_id, Value::Null, Vec::new())
    }

    /// The `_result` of `createStream`: `(_result, id, null, stream ID)`.
    pub fn create_stream_result(transaction_id: f64, stream_id: u32) -> Command {
        Command::new(
            name::RESULT,
            transaction_id,
            Value::Null,
            vec![Value::Number(f64::from(stream_id))],
        )
    }

    /// `publish(name, type)`; type is "live", "record" or "append".
    pub fn publish(stream_name: &str, publish_type: &str) -> Command {
        Command::new(
            name::PUBLISH,
            0.0,
            Value::Null,
            vec![Value::from(stream_name), Value::from(publish_type)],
        )
    }

    /// `play(name)`.
    pub fn play(stream_name: &str) -> Command {
        Command::new(name::PLAY, 0.0, Value::Null, vec![Value::from(stream_name)])
    }

    /// `play(name, start, duration, reset)`; trailing `None`s are omitted
    /// and inner ones sent as their defaults (-2, -1, true).
    pub fn play_with(
        stream_name: &str,
        start: Option<f64>,
        duration: Option<f64>,
        reset: Option<bool>,
    ) -> Command {
        let mut args = vec![Value::from(stream_name)];
        let n = if reset.is_some() {
            3
        } else if duration.is_some() {
            2
        } else if start.is_some() {
            1
        } else {
            0
        };
        if n >= 1 {
            args.push(Value::Number(start.unwrap_or(-2.0)));
        }
        if n >= 2 {
            args.push(Value::Number(duration.unwrap_or(-1.0)));
        }
        if n >= 3 {
            args.push(Value::Boolean(reset.unwrap_or(true)));
        }
        Command::new(name::PLAY, 0.0, Value::Null, args)
    }

    /// `deleteStream(stream ID)`.
    pub fn delete_stream(stream_id: u32) -> Command {
        Command::new(
            name::DELETE_STREAM,
            0.0,
            Value::Null,
            vec![Value::Number(f64::from(stream_id))],
        )
    }

    /// `closeStream()`.
    pub fn close_stream() -> Command {
        Command::new(name::CLOSE_STREAM, 0.0, Value::Null, Vec::new())
    }

    /// `setPeerInfo` (RFC 7425 §5.3.3) with socket addresses, each as
    /// `"a.b.c.d:port"` or `"[v6]:port"`.
    pub fn set_peer_info(addresses: &[SocketAddr]) -> Command {
        Command::set_peer_info_strings(addresses.iter().map(SocketAddr::to_string))
    }

    /// `setPeerInfo` with address strings as given.
    pub fn set_peer_info_strings<S: Into<String>>(
        addresses: impl IntoIterator<Item = S>,
    ) -> Command {
        Command::new(
            name::SET_PEER_INFO,
            0.0,
            Value::Null,
            addresses
                .into_iter()
                .map(|s| Value::String(s.into()))
                .collect(),
        )
    }

    // ----- readers -----

    /// The addresses of a `setPeerInfo`.  Arguments that are not strings
    /// or not socket addresses are skipped: a peer's odd entry should not
    /// cost it the others.  Flash-era clients (librtmfp) send no command
    /// object, so their first address sits where the command object goes:
    /// a string there counts as an address too (RFC 7425 §5.3 has a Null).
    pub fn peer_info_addresses(&self) -> Vec<SocketAddr> {
        std::iter::once(&self.command_object)
            .chain(&self.args)
            .filter_map(|v| v.as_str()?.trim().parse().ok())
            .collect()
    }

    /// The stream name of a `publish` or `play` (the first argument).
    pub fn stream_name(&self) -> Option<&str> {
        self.arg(0).and_then(Value::as_str)
    }

    /// The first argument as a number: the stream ID of a `createStream`
    /// result or of a `deleteStream`.
    pub fn number_arg(&self) -> Option<f64> {
        self.arg(0).and_then(Value::as_f64)
    }

    /// The info object of an `onStatus`, `_result` or `_error` (the first
    /// argument), if it is one.
    pub fn status_info(&self) -> Option<StatusInfo> {
        self.arg(0).and_then(StatusInfo::from_value)
    }
}

/// An info object: `{ level, code, description, ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusInfo {
    /// "status", "warning" or "error" (see [`level`]).
    pub level: String,
    /// The status code, such as "NetConnection.Connect.Success".
    pub code: String,
    /// Human-readable text.
    pub description: String,
    /// Further members (for example `objectEncoding`, `clientid`).
    pub extra: Vec<(String, Value)>,
}

impl StatusInfo {
    /// An info object of level `level`.
    pub fn new(level: &str, code: &str, description: &str) -> StatusInfo {
        StatusInfo {
            level: level.to_owned(),
            code: code.to_owned(),
            description: description.to_owned(),
            extra: Vec::new(),
        }
    }

    /// An info object of level "status".
    pub fn status(code: &str, description: &str) -> StatusInfo {
        StatusInfo::new(level::STATUS, code, description)
    }

    /// An info object of level "error".
    pub fn error(code: &str, description: &str) -> StatusInfo {
        StatusInfo::new(level::ERROR, code, description)
    }

    /// Adds a member after the standard ones.
    pub fn with(mut self, key: &str, value: Value) -> StatusInfo {
        self.extra.push((key.to_owned(), value));
        self
    }

    /// Whether the level is "error".
    pub fn is_error(&self) -> bool {
        self.level == level::ERROR
    }

    /// The anonymous object: level, code, description, then `extra`.
    pub fn to_value(&self) -> Value {
        let mut props = Vec::with_capacity(3 + self.extra.len());
        props.push(("level".to_owned(), Value::from(self.level.as_str())));
        props.push(("code".to_owned(), Value::from(self.code.as_str())));
        props.push((
            "description".to_owned(),
            Value::from(self.description.as_str()),
        ));
        props.extend(self.extra.iter().cloned());
        Value::object(props)
    }

    /// Reads an info object; it needs at least a string `code`.
    pub fn from_value(v: &Value) -> Option<StatusInfo> {
        let props = v.properties()?;
        let code = v.get_str("code")?.to_owned();
        Some(StatusInfo {
            level: v.get_str("level").unwrap_or_default().to_owned(),
            code,
            description: v.get_str("description").unwrap_or_default().to_owned(),
            extra: props
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "level" | "code" | "description"))
                .cloned()
                .collect(),
        })
    }
}

/// The command object of `connect` (rtmp-1.0 commands part §4.1.1).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectObject {
    /// Server application name.
    pub app: String,
    /// Flash Player version string, such as "FMSc/1.0".
    pub flash_ver: String,
    /// URL of the SWF making the connection, if any.
    pub swf_url: Option<String>,
    /// The server URL ("rtmfp://host/app/instance").
    pub tc_url: String,
    /// Whether a proxy is used.
    pub fpad: bool,
    /// Capabilities bit field (Flash Player sends 235).
    pub capabilities: f64,
    /// Supported audio codecs (SUPPORT_SND_* bits).
    pub audio_codecs: f64,
    /// Supported video codecs (SUPPORT_VID_* bits).
    pub video_codecs: f64,
    /// Video function bits (SUPPORT_VID_CLIENT_SEEK = 1).
    pub video_function: f64,
    /// URL of the web page that loaded the SWF, if any.
    pub page_url: Option<String>,
    /// The object encoding asked for.
    pub object_encoding: ObjectEncoding,
}

impl ConnectObject {
    /// A command object for `app` at `tc_url`, with the all-codecs
    /// defaults of a modern client and AMF3.
    pub fn new(app: &str, tc_url: &str) -> ConnectObject {
        ConnectObject {
            app: app.to_owned(),
            flash_ver: "WIN 32,0,0,0".to_owned(),
            swf_url: None,
            tc_url: tc_url.to_owned(),
            fpad: false,
            capabilities: 235.0,
            audio_codecs: 3575.0,
            video_codecs: 252.0,
            video_function: 1.0,
            page_url: None,
            object_encoding: ObjectEncoding::Amf3,
        }
    }

    /// The anonymous object, in the member order Flash Player uses
    /// (absent URLs as `undefined`).
    pub fn to_value(&self) -> Value {
        let url = |u: &Option<String>| u.as_deref().map_or(Value::Undefined, Value::from);
        Value::object([
            ("app", Value::from(self.app.as_str())),
            ("flashVer", Value::from(self.flash_ver.as_str())),
            ("swfUrl", url(&self.swf_url)),
            ("tcUrl", Value::from(self.tc_url.as_str())),
            ("fpad", Value::Boolean(self.fpad)),
            ("capabilities", Value::Number(self.capabilities)),
            ("audioCodecs", Value::Number(self.audio_codecs)),
            ("videoCodecs", Value::Number(self.video_codecs)),
            ("videoFunction", Value::Number(self.video_function)),
            ("pageUrl", url(&self.page_url)),
            (
                "objectEncoding",
                Value::Number(self.object_encoding.number()),
            ),
        ])
    }

    /// Reads a connect command object; missing members take neutral
    /// defaults (empty strings, 0, AMF0).  `None` if it is not an object.
    pub fn from_value(v: &Value) -> Option<ConnectObject> {
        v.properties()?;
        let s = |k| v.get_str(k).unwrap_or_default().to_owned();
        let n = |k| v.get_f64(k).unwrap_or(0.0);
        Some(ConnectObject {
            app: s("app"),
            flash_ver: s("flashVer"),
            swf_url: v.get_str("swfUrl").map(str::to_owned),
            tc_url: s("tcUrl"),
            fpad: v.get("fpad").and_then(Value::as_bool).unwrap_or(false),
            capabilities: n("capabilities"),
            audio_codecs: n("audioCodecs"),
            video_codecs: n("videoCodecs"),
            video_function: n("videoFunction"),
            page_url: v.get_str("pageUrl").map(str::to_owned),
            object_encoding: ObjectEncoding::from_number(n("objectEncoding")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_payloads_are_lenient() {
        // Name only.
        let c = Command::decode(20, &[0x02, 0x00, 0x01, b'x']).unwrap();
        assert_eq!(c, Command::new("x", 0.0, Value::Null, vec![]));
        assert_eq!(Command::decode(20, &[]), Err(FlashError::NotACommand));
        assert_eq!(Command::decode(20, &[0x05]), Err(FlashError::NotACommand));
        assert_eq!(Command::decode(17, &[]), Err(FlashError::Truncated));
        assert_eq!(
            Command::decode(17, &[1, 0x05]),
            Err(FlashError::BadFormatSelector(1))
        );
        assert_eq!(
            Command::decode(8, &[]),
            Err(FlashError::WrongMessageType(8))
        );
    }

    #[test]
    fn play_with_fills_defaults() {
        let c = Command::play_with("s", None, None, Some(false));
        assert_eq!(
            c.args,
            [
                Value::from("s"),
                Value::Number(-2.0),
                Value::Number(-1.0),
                Value::Boolean(false)
            ]
        );
        assert_eq!(
            Command::play_with("s", None, None, None),
            Command::play("s")
        );
    }

    #[test]
    fn status_info_round_trip() {
        let info = StatusInfo::status(code::CONNECT_SUCCESS, "Connection succeeded.")
            .with("objectEncoding", Value::Number(3.0));
        let c = Command::result(
            1.0,
            Value::object([("fmsVer", Value::from("rtmfp/0.1"))]),
            info.to_value(),
        );
        let back = Command::decode(20, &c.encode(20).unwrap()).unwrap();
        assert_eq!(back.status_info(), Some(info));
        assert!(back.is_result());
    }

    #[test]
    fn connect_object_round_trip() {
        let mut o = ConnectObject::new("app/KEY", "rtmfp://example.com/app/KEY");
        o.page_url = Some("http://example.com/".to_owned());
        let c = Command::connect(&o, vec![Value::from("extra")]);
        let back = Command::decode(17, &c.encode(17).unwrap()).unwrap();
        assert_eq!(ConnectObject::from_value(&back.command_object), Some(o));
        assert_eq!(back.args, [Value::from("extra")]);
    }
}
