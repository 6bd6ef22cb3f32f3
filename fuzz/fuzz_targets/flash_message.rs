//! RFC 7425 §5 messages as they arrive on a flow: the message framing,
//! commands (AMF0 and AMF3 forms), user control events, flow metadata and
//! status objects. Nothing may panic; a command that decodes must encode
//! and decode to the same encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp_core::flash::command::Command;
use rtmfp_core::flash::message::{message_type, Message};
use rtmfp_core::flash::metadata::FlowMetadata;
use rtmfp_core::flash::user_control::UserControlEvent;

fuzz_target!(|data: &[u8]| {
    let _ = FlowMetadata::parse(data);
    let Ok(message) = Message::parse(data) else {
        return;
    };
    let t = message.message_type;
    match t {
        message_type::COMMAND_AMF0
        | message_type::COMMAND_AMF3
        | message_type::DATA_AMF0
        | message_type::DATA_AMF3 => {
            if let Ok(command) = Command::decode(t, &message.payload) {
                let _ = command.status_info();
                let _ = command.peer_info_addresses();
                let _ = command.stream_name();
                if let Ok(bytes) = command.encode(t) {
                    let again = Command::decode(t, &bytes).expect("our command decodes");
                    assert_eq!(again.encode(t).expect("re-encodes"), bytes);
                }
            }
        }
        message_type::USER_CONTROL => {
            if let Ok(event) = UserControlEvent::parse(&message.payload) {
                let again = UserControlEvent::parse(&event.to_bytes()).expect("ours parses");
                assert_eq!(again, event);
            }
        }
        _ => {}
    }
});
