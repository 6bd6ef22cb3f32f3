//! `benchEvents(n)`: a micro-benchmark of [`crate::events::event`], built
//! only with the cargo feature `bench` (never in the package; see
//! scripts/bench-events.js).  It describes and converts common events
//! (a message, a delivery receipt, a session opened, a Flash media
//! message and a status, a server's client connected) `n` times each.

// Reached from JS only: napi's glue, which test builds leave out.
#![cfg_attr(test, allow(dead_code))]

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use rtmfp_core::endpoint::{Event, Role, SessionHandle};
use rtmfp_core::flash::{ClientEvent, StatusInfo, StreamId};
use rtmfp_core::host::{Describe, Description};
use rtmfp_core::rendezvous::{ClientInfo, ServerEvent};

/// This thread's CPU time in nanoseconds (the figures leave out the time
/// the thread waited for a core: the machine may be busy).
fn cpu_ns() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1e9 + t.tv_nsec as f64
}

/// The kinds of [`sample`], in its order.
const KINDS: usize = 6;

/// Sample event `k` (round `i`), with the `stream` argument
/// `events::event` gets.
fn sample(k: usize, i: u64) -> (Description, Option<Option<u32>>) {
    let session = SessionHandle(i % 7 + 1);
    let address = "127.0.0.1:1935".parse().expect("an address");
    match k {
        0 => (
            Event::Message {
                session,
                flow: 3,
                data: vec![0; 64],
                gap_before: false,
            }
            .describe(),
            None,
        ),
        1 => (
            Event::MessageDelivered {
                session,
                flow: 2,
                message: i,
            }
            .describe(),
            None,
        ),
        2 => (
            Event::SessionOpened {
                session,
                role: Role::Initiator,
                far_address: address,
                far_peer_id: Some([7; 32]),
                near_nonce: vec![1; 32],
                far_nonce: vec![2; 32],
            }
            .describe(),
            None,
        ),
        3 => (
            ClientEvent::Media {
                stream: StreamId(1),
                message_type: 9,
                timestamp: i as u32,
                payload: vec![0; 256],
            }
            .describe(),
            Some(Some(1)),
        ),
        4 => (
            ClientEvent::Status {
                stream: None,
                info: StatusInfo::status("NetStream.Play.Start", "started"),
            }
            .describe(),
            Some(None),
        ),
        _ => (
            ServerEvent::Connected {
                client: ClientInfo {
                    session,
                    peer_id: Some([7; 32]),
                    address,
                    addresses: vec![address],
                    connected: true,
                    behind_nat: Some(false),
                    app: "live".into(),
                    key: None,
                    names: vec![],
                    publishing: vec![],
                    playing: vec![],
                    media_in: i,
                },
            }
            .describe(),
            None,
        ),
    }
}

/// CPU nanoseconds per event of each sample kind: `[describing only,
/// describing and converting]`, kind after kind, over `n` events each.
#[napi(js_name = "benchEvents")]
pub fn bench_events(env: Env, n: u32) -> Result<Vec<f64>> {
    let raw = env.raw();
    let mut out = Vec::with_capacity(2 * KINDS);
    for k in 0..KINDS {
        let start = cpu_ns();
        for i in 0..u64::from(n) {
            std::hint::black_box(sample(k, i));
        }
        out.push((cpu_ns() - start) / f64::from(n));
        let start = cpu_ns();
        for i in 0..u64::from(n) {
            let mut scope = std::ptr::null_mut();
            let (d, stream) = sample(k, i);
            // SAFETY: `raw` is this call's environment, on its thread;
            // the event's values are dropped with the scope.
            unsafe {
                crate::amf::check(sys::napi_open_handle_scope(raw, &mut scope), "open_scope")?;
                let converted = crate::events::event(raw, d, stream);
                crate::amf::check(sys::napi_close_handle_scope(raw, scope), "close_scope")?;
                std::hint::black_box(converted?);
            }
        }
        out.push((cpu_ns() - start) / f64::from(n));
    }
    Ok(out)
}
