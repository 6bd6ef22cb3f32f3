//! Cross-node stream relay (feature `cluster`): a node whose player asks
//! for a stream published through another node plays it from that node
//! over one RTMFP session of its own (RFC 7425 §5.3.5.2, the node being
//! an ordinary Flash client there) and relays it to its local players.
//! The player never connects to the publisher's node.
//!
//! One upstream per stream and node: a thread owns its
//! [`NetConnection`] and posts what it receives to the server layer
//! ([`Server::cluster_upstream_started`](crate::rendezvous::Server::cluster_upstream_started),
//! [`Server::cluster_upstream_media`](crate::rendezvous::Server::cluster_upstream_media),
//! [`Server::cluster_upstream_ended`](crate::rendezvous::Server::cluster_upstream_ended)).

use super::redis::{post, Poster};
use crate::flash::client::ClientEvent;
use crate::flash::command::code;
use crate::flash::{NetConnection, NetConnectionConfig};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an upstream may take to connect and start playing.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The flags of one upstream thread.
#[derive(Debug, Default)]
pub(super) struct Upstream {
    /// Set by the worker: the last local player left.
    pub stop: AtomicBool,
    /// Set by the thread when it ends.
    pub done: AtomicBool,
}

/// Plays `name` from the node at `node` (app `app`) until it is
/// unpublished there, the session dies, or `flags.stop` is set; tells the
/// server layer through `poster`.  Runs on a thread of its own.
pub(super) fn run(
    node: SocketAddr,
    app: String,
    name: String,
    poster: Poster,
    flags: Arc<Upstream>,
) {
    let ended = |poster: &Poster, name: &str| {
        let name = name.to_owned();
        post(poster, move |s, ep, now| {
            s.cluster_upstream_ended(ep, now, &name)
        });
    };
    let uri = format!("rtmfp://{node}/{app}");
    let bind = match node {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    };
    let config = NetConnectionConfig {
        bind: vec![bind],
        ..NetConnectionConfig::default()
    };
    let Ok(nc) = NetConnection::connect(&uri, config) else {
        ended(&poster, &name);
        flags.done.store(true, Ordering::SeqCst);
        return;
    };
    let deadline = Instant::now() + START_TIMEOUT;
    let mut stream = None;
    let mut started = false;
    while !flags.stop.load(Ordering::SeqCst) {
        if !started && Instant::now() > deadline {
            break;
        }
        let Some(event) = nc.next_event_timeout(Duration::from_millis(200)) else {
            if nc.is_connected().is_err() {
                break;
            }
            continue;
        };
        match event {
            ClientEvent::Status { stream: None, info } => {
                if info.code == code::CONNECT_SUCCESS {
                    match nc.create_stream() {
                        Ok(ns) if ns.play(&name).is_ok() => stream = Some(ns),
                        _ => break,
                    }
                } else {
                    // Rejected, closed or failed.
                    break;
                }
            }
            ClientEvent::Status {
                stream: Some(_),
                info,
            } => match info.code.as_str() {
                code::PLAY_START if !started => {
                    started = true;
                    let name = name.clone();
                    post(&poster, move |s, ep, now| {
                        s.cluster_upstream_started(ep, now, &name)
                    });
                }
                code::PLAY_UNPUBLISH_NOTIFY | code::PLAY_FAILED => break,
                _ => {}
            },
            ClientEvent::Media {
                message_type,
                timestamp,
                payload,
                ..
            } if started => {
                let name = name.clone();
                post(&poster, move |s, ep, now| {
                    s.cluster_upstream_media(ep, now, &name, message_type, timestamp, &payload)
                });
            }
            _ => {}
        }
    }
    drop(stream);
    nc.close(Duration::from_millis(300));
    ended(&poster, &name);
    flags.done.store(true, Ordering::SeqCst);
}
