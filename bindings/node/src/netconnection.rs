//! `NativeNetConnection`: a Flash client (`rtmfp_core::flash::client::
//! FlashClient`) on its own runtime, with a fresh client identity (RFC 7425
//! §5.3: a new certificate and peer ID per connection).  The JS wrapper
//! (`lib/netconnection.js`) builds `NetConnection` and `NetStream` on it.
//!
//! It is core's `NetConnection`: every call here is posted to its I/O
//! thread without waiting, and the dispatcher hands its events to JS like
//! an endpoint's.
//!
//! NetStreams are named by keys the JS side picks (small integers): the
//! posted closures translate them to the client's `StreamId`s and the
//! event sink translates back, so a NetStream can be used at once,
//! before its creation has run on the I/O thread.
//!
//! Subscribers of a DIRECT_CONNECTIONS stream are accepted on the I/O
//! thread (up to `maxPeerConnections`) unless its `onPeerConnect` is set:
//! then the stream asks (`setStreamAsks`, core's per-stream asks), and a
//! `peerConnect` item goes to JS, whose `onPeerConnect` answers with
//! `acceptPeer` or `rejectPeer`.

use crate::amf;
use crate::convert::{self, AddrSpec};
use crate::errors::{self, describe, invalid, Code, Result};
use crate::flv::{FlvTask, Op};
use crate::items::{Item, NativeItem, ReplyValue};
use crate::object::{lock, Base, CloseTask};
use crate::shared::{Mapped, Reply};
use napi::bindgen_prelude::{AsyncTask, Function, Object, Unknown};
use napi::Env;
use napi_derive::napi;
use rtmfp_core::endpoint::Endpoint;
use rtmfp_core::flash::client::{
    check_stream_message, ClientError, PeerConnectMode, PeerStreamId, StreamId,
};
use rtmfp_core::flash::command::encode_values;
use rtmfp_core::flash::message::message_type;
use rtmfp_core::flash::peer_id::from_hex;
use rtmfp_core::flash::uri::RtmfpUri;
use rtmfp_core::flash::{ClientEvent, FlashClient, NetConnection as CoreNetConnection, NetError};
use rtmfp_core::host::{options, Classify};
use rtmfp_core::runtime::Handle;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// JS keys <-> the client's stream numbers.
#[derive(Default)]
pub struct Keys {
    pub by_key: HashMap<u32, StreamId>,
    by_id: HashMap<StreamId, u32>,
}

/// The stream an event is about.
fn stream_of(event: &ClientEvent) -> Option<StreamId> {
    match event {
        ClientEvent::Status { stream, .. }
        | ClientEvent::UserControl { stream, .. }
        | ClientEvent::Command { stream, .. }
        | ClientEvent::PeerStreamClosed { stream, .. } => *stream,
        ClientEvent::StreamCreated { stream, .. } | ClientEvent::Media { stream, .. } => {
            Some(*stream)
        }
        ClientEvent::PeerConnect { peer } | ClientEvent::PeerStreamOpened { peer } => peer.stream,
        ClientEvent::CallResult { .. } | ClientEvent::KeepaliveTimers { .. } => None,
    }
}

/// A Flash client on its own runtime.
#[napi]
pub struct NativeNetConnection {
    base: Base,
    keys: Arc<Mutex<Keys>>,
    /// Core's NetConnection (also in `base`) for its NetStreams' FLV
    /// calls; `None` once closed, so that its file descriptors go with
    /// the runtime rather than with the JS object.
    nc: Mutex<Option<Arc<CoreNetConnection>>>,
}

/// The server session's identity, as an item (once it is open).
fn server_session(c: &mut FlashClient, _: &mut Endpoint, _: Instant) -> Option<Item> {
    Some(Item::ServerSession {
        far_id: c.far_id(),
        near_nonce: c.near_nonce()?.to_vec(),
        far_nonce: c.far_nonce()?.to_vec(),
        far_address: c.server_address()?,
    })
}

/// The kinds of `createStream`.
fn stream_kind(kind: &str, peer: Option<String>) -> Result<Option<[u8; 32]>> {
    match (kind, peer) {
        ("server" | "direct", None) => Ok(None),
        ("peer", Some(id)) => from_hex(&id)
            .map(Some)
            .ok_or_else(|| invalid(format!("bad peer ID {id:?}: expected 64 hex digits"))),
        ("peer", None) => Err(invalid("a peer NetStream needs the publisher's peer ID")),
        ("server" | "direct", Some(_)) => Err(invalid("only a peer NetStream takes a peer ID")),
        (other, _) => Err(invalid(format!(
            "kind must be 'server', 'direct' or 'peer', got {other:?}"
        ))),
    }
}

fn client_failed(request: u32, e: ClientError) -> Item {
    let (code, message) = describe(&e);
    Item::failed(request, code, message)
}

impl NativeNetConnection {
    fn reply(&self, request: u32) -> Result<Reply> {
        self.base.reply(request)
    }

    /// Runs `f` with the client on the I/O thread, without waiting.
    fn post<F>(&self, f: F) -> Result<()>
    where
        F: FnOnce(&mut FlashClient, &mut Endpoint, Instant) + Send + 'static,
    {
        self.base.shared.post_layer::<FlashClient, F>(f)
    }

    /// Runs a request on the NetStream with key `key`; replies with what
    /// `f` returns.
    fn on_stream<F>(&self, request: u32, key: u32, f: F) -> Result<()>
    where
        F: FnOnce(
                &mut FlashClient,
                &mut Endpoint,
                Instant,
                StreamId,
            ) -> std::result::Result<ReplyValue, ClientError>
            + Send
            + 'static,
    {
        let reply = self.reply(request)?;
        let keys = self.keys.clone();
        self.post(move |c, ep, now| {
            let id = lock(&keys).by_key.get(&key).copied();
            let result = match id {
                Some(id) => f(c, ep, now, id),
                None => Err(ClientError::UnknownStream),
            };
            reply.send(match result {
                Ok(value) => Item::reply(request, Ok(value)),
                Err(e) => client_failed(request, e),
            });
        })
    }

    /// Sends one message of `ty` on a publishing NetStream; replies with
    /// the number of destinations.
    fn send_message(
        &self,
        request: u32,
        key: u32,
        message_type: i64,
        timestamp: f64,
        payload: Vec<u8>,
    ) -> Result<()> {
        let timestamp = convert::u32_arg(timestamp, "timestamp")?;
        let ty = check_stream_message(message_type, payload.len())
            .map_err(|e| errors::failed(e.failure()))?;
        self.on_stream(request, key, move |c, ep, now, id| {
            c.send(ep, now, id, ty, timestamp, &payload)
                .map(|n| ReplyValue::Id(n as u64))
        })
    }
}

crate::object::base_members!(NativeNetConnection);

#[napi]
impl NativeNetConnection {
    /// Makes a client identity, binds the sockets and starts the I/O and
    /// dispatcher threads (no connection yet: see `connect`), with the
    /// NetConnection options of core's table.  `onItems`
    /// receives every event and reply, in batches, on the JS thread.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        options: Object<'_>,
        on_items: Function<'_, Vec<NativeItem>, ()>,
    ) -> Result<Self> {
        let options = crate::options::read(&env, &options, options::Object::NetConnection)?;
        let mut config = options.netconnection_config().map_err(errors::failed)?;
        // Streams whose onPeerConnect is set ask (setStreamAsks); the
        // others accept without waiting for the JS thread.
        config.client.peer_connect = PeerConnectMode::AcceptAll;
        let bind = config.bind.clone();
        let nc = CoreNetConnection::start(config).map_err(|e| match e {
            NetError::Io(e) => convert::start_failed(&bind, e),
            other => errors::failed(other.failure()),
        })?;
        let peer_id = nc.near_id();
        let keys = Arc::new(Mutex::new(Keys::default()));
        let source = Mapped::source(nc.event_queue().clone(), {
            let keys = keys.clone();
            let told = AtomicBool::new(false);
            move |event: ClientEvent, handle: &Handle, items: &mut Vec<Item>| {
                // The server session's farID and nonces, before the outcome
                // of the connect.
                if matches!(event, ClientEvent::Status { stream: None, .. })
                    && !told.swap(true, Ordering::SeqCst)
                {
                    if let Ok(Some(item)) = handle.call_layer(server_session) {
                        items.push(item);
                    }
                }
                let stream = stream_of(&event).and_then(|id| lock(&keys).by_id.get(&id).copied());
                items.push(Item::Client { event, stream });
            }
        });
        let nc = Arc::new(nc);
        Ok(NativeNetConnection {
            base: Base::start(&env, nc.clone(), source, peer_id, on_items)?,
            keys,
            nc: Mutex::new(Some(nc)),
        })
    }

    /// Connects to the server of `uri` (`rtmfp://host[:port]/app[/KEY]`;
    /// throws for a malformed one), with `args` as extra `connect`
    /// arguments.  Replies once `connect` was sent (an error if it could
    /// not be: unknown host, already connected); the outcome follows as a
    /// `netStatus` item: "NetConnection.Connect.Success", ".Failed" or
    /// ".Rejected".
    #[napi]
    pub fn connect(
        &self,
        env: Env,
        request: u32,
        uri: String,
        args: Vec<Unknown<'_>>,
    ) -> Result<()> {
        let parsed = RtmfpUri::parse(&uri).map_err(|e| invalid(e.to_string()))?;
        let args = amf::from_js_list(&env, &args, "args")?;
        let bound = self.base.shared.local_addrs.clone();
        let spec = match parsed.host.parse::<IpAddr>() {
            Ok(ip) => AddrSpec::Ready(SocketAddr::new(ip, parsed.port)),
            Err(_) => AddrSpec::Name(parsed.host.clone(), parsed.port),
        };
        self.base
            .with_addrs(request, vec![spec], move |addrs, reply, shared| {
                let candidates: Vec<SocketAddr> = addrs
                    .into_iter()
                    .filter(|a| bound.iter().any(|b| b.is_ipv4() == a.is_ipv4()))
                    .collect();
                if candidates.is_empty() {
                    reply.send(Item::failed(
                        request,
                        Code::InvalidArgument,
                        format!("{} has no address of a bound family", parsed.host),
                    ));
                    return Ok(());
                }
                shared.post_layer::<FlashClient, _>(move |c: &mut FlashClient, ep, now| {
                    let r = c.connect(ep, now, &uri, &candidates, args);
                    reply.send(match r {
                        Ok(()) => Item::reply(request, Ok(ReplyValue::None)),
                        Err(e) => client_failed(request, e),
                    });
                })
            })
    }

    /// Creates NetStream `key`: `kind` `'server'` (through the server),
    /// `'direct'` (DIRECT_CONNECTIONS) or `'peer'` (plays the
    /// DIRECT_CONNECTIONS stream of `peerId`).
    #[napi]
    pub fn create_stream(&self, key: u32, kind: String, peer_id: Option<String>) -> Result<()> {
        let peer = stream_kind(&kind, peer_id)?;
        let keys = self.keys.clone();
        self.post(move |c, ep, now| {
            let id = match (kind.as_str(), peer) {
                ("server", _) => c.create_stream(ep, now),
                (_, Some(p)) => c.create_peer_stream(p),
                _ => c.create_direct_stream(),
            };
            let mut keys = lock(&keys);
            keys.by_key.insert(key, id);
            keys.by_id.insert(id, key);
        })
    }

    /// `publish(name)` on NetStream `key` (server or DIRECT_CONNECTIONS).
    #[napi]
    pub fn publish(&self, request: u32, key: u32, name: String) -> Result<()> {
        self.on_stream(request, key, move |c, ep, now, id| {
            c.publish(ep, now, id, &name).map(|()| ReplyValue::None)
        })
    }

    /// `play(name)` on NetStream `key` (server or peer).
    #[napi]
    pub fn play(&self, request: u32, key: u32, name: String) -> Result<()> {
        self.on_stream(request, key, move |c, ep, now, id| {
            c.play(ep, now, id, &name).map(|()| ReplyValue::None)
        })
    }

    /// Sends a message (`messageType` 8 audio, 9 video, 15 or 18 data,
    /// the payload as it is) on publishing NetStream `key`; replies with
    /// how many destinations it was queued for.
    #[napi]
    pub fn send(
        &self,
        request: u32,
        key: u32,
        message_type: u32,
        timestamp: f64,
        data: &[u8],
    ) -> Result<()> {
        self.send_message(request, key, message_type.into(), timestamp, data.to_vec())
    }

    /// Sends a data message (type 18) of `values` in AMF0 on publishing
    /// NetStream `key`; replies with how many destinations.
    #[napi]
    pub fn send_data(
        &self,
        env: Env,
        request: u32,
        key: u32,
        timestamp: f64,
        values: Vec<Unknown<'_>>,
    ) -> Result<()> {
        let values = amf::from_js_list(&env, &values, "values")?;
        let payload = encode_values(message_type::DATA_AMF0, &values)
            .map_err(|e| invalid(format!("cannot encode the values: {e}")))?;
        self.send_message(
            request,
            key,
            message_type::DATA_AMF0.into(),
            timestamp,
            payload,
        )
    }

    /// Closes NetStream `key` (unpublishes, drops subscribers, stops
    /// playing).
    #[napi]
    pub fn close_stream(&self, key: u32) -> Result<()> {
        let keys = self.keys.clone();
        self.post(move |c, ep, now| {
            let id = lock(&keys).by_key.get(&key).copied();
            if let Some(id) = id {
                let _ = c.close_stream(ep, now, id);
            }
        })
    }

    /// Calls command `name` on the server with `args`; replies with the
    /// transaction ID, which the `callResult` item carries.  `name`
    /// `registerName` and `lookupName` are the rendezvous server's own.
    #[napi]
    pub fn call(&self, env: Env, request: u32, name: String, args: Vec<Unknown<'_>>) -> Result<()> {
        if name.is_empty() {
            return Err(invalid("the command name is empty"));
        }
        let args = amf::from_js_list(&env, &args, "args")?;
        let reply = self.reply(request)?;
        self.post(move |c, ep, now| {
            reply.send(match c.call(ep, now, &name, args) {
                Ok(txn) => Item::reply(request, Ok(ReplyValue::Id(txn as u64))),
                Err(e) => client_failed(request, e),
            });
        })
    }

    /// Whether DIRECT_CONNECTIONS NetStream `key` asks about its
    /// subscribers (its `onPeerConnect` is set): each is then a
    /// `peerConnect` item answered with `acceptPeer` or `rejectPeer`;
    /// otherwise they are accepted on the I/O thread.
    #[napi]
    pub fn set_stream_asks(&self, key: u32, asks: bool) -> Result<()> {
        let keys = self.keys.clone();
        self.post(move |c, _, _| {
            let id = lock(&keys).by_key.get(&key).copied();
            if let Some(id) = id {
                let _ = c.set_stream_asks(id, asks);
            }
        })
    }

    /// Accepts subscriber `peer` (from a `peerConnect` item).
    #[napi]
    pub fn accept_peer(&self, peer: f64) -> Result<()> {
        let peer = PeerStreamId(convert::id(peer, "peer")?);
        self.post(move |c, ep, now| {
            let _ = c.accept_peer(ep, now, peer);
        })
    }

    /// Rejects (or drops) subscriber `peer`: it gets
    /// "NetStream.Connect.Rejected" with `reason`.
    #[napi]
    pub fn reject_peer(&self, peer: f64, reason: String) -> Result<()> {
        let peer = PeerStreamId(convert::id(peer, "peer")?);
        self.post(move |c, ep, now| {
            let _ = c.reject_peer(ep, now, peer, &reason);
        })
    }

    /// Sets the most subscribers of our DIRECT_CONNECTIONS streams.
    #[napi]
    pub fn set_max_peer_connections(&self, max: u32) -> Result<()> {
        self.post(move |c, _, _| c.set_max_peer_connections(max as usize))
    }

    /// Closes the connection in order (RFC 7425 §5.3.6: streams, flows,
    /// then the sessions to the server and to peers), waits at most
    /// `timeoutMs` for the far ends, stops both threads.  Resolves to
    /// whether everything closed cleanly in time; the last events
    /// ("NetConnection.Connect.Closed", then `end`) reach the callback
    /// first.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn close(&self, env: Env, timeout_ms: f64) -> Result<AsyncTask<CloseTask>> {
        convert::millis(timeout_ms, "timeout")?;
        // Closed already (or the runtime stopped): nothing to close in order.
        let _ = self.post(|c, ep, now| c.close(ep, now));
        lock(&self.nc).take();
        self.base.close(&env, timeout_ms)
    }

    /// An FLV call of NetStream `key` on a libuv worker, waiting at most
    /// `waitMs`.
    fn flv(&self, key: u32, op: Op, wait_ms: f64) -> Result<AsyncTask<FlvTask>> {
        let wait = convert::millis(wait_ms, "waitMs")?;
        self.base.shared.check_open()?;
        let nc = lock(&self.nc).clone().ok_or_else(errors::closed)?;
        Ok(AsyncTask::new(FlvTask {
            nc,
            keys: self.keys.clone(),
            key,
            op,
            wait,
        }))
    }

    /// Reads playing NetStream `key` as FLV from now on, with a
    /// reordering window of `windowMs` of stream time (0: as tags come).
    #[napi(ts_return_type = "Promise<FlvOutcome>")]
    pub fn flv_start_read(&self, key: u32, window_ms: u32) -> Result<AsyncTask<FlvTask>> {
        self.flv(key, Op::StartRead(window_ms), 0.0)
    }

    /// Publishes FLV bytes (split anywhere) on NetStream `key`: resolves
    /// with `count`, the bytes taken (fewer than given under
    /// backpressure; 0 if there was no room within `waitMs`), or a
    /// `code` and `message` (not FLV: `ERR_RTMFP_INVALID_ARGUMENT`).
    #[napi(ts_return_type = "Promise<FlvOutcome>")]
    pub fn flv_write(&self, key: u32, data: &[u8], wait_ms: f64) -> Result<AsyncTask<FlvTask>> {
        self.flv(key, Op::Write(data.to_vec()), wait_ms)
    }

    /// Waits at most `waitMs` until every tag written on NetStream `key`
    /// was sent and acknowledged: resolves with `flushed`.
    #[napi(ts_return_type = "Promise<FlvOutcome>")]
    pub fn flv_flush(&self, key: u32, wait_ms: f64) -> Result<AsyncTask<FlvTask>> {
        self.flv(key, Op::Flush, wait_ms)
    }

    /// Reads at most `size` FLV bytes of NetStream `key`, waiting at most
    /// `waitMs`: resolves with `data` (empty at the end of the stream) or
    /// with nothing if none came.
    #[napi(ts_return_type = "Promise<FlvOutcome>")]
    pub fn flv_read(&self, key: u32, size: u32, wait_ms: f64) -> Result<AsyncTask<FlvTask>> {
        self.flv(key, Op::Read(size.max(1) as usize), wait_ms)
    }

    /// Closes NetStream `key` as core does, ending its FLV reader at once
    /// (`closeStream` does not wait for the I/O thread, so cannot).
    #[napi(ts_return_type = "Promise<FlvOutcome>")]
    pub fn flv_close(&self, key: u32) -> Result<AsyncTask<FlvTask>> {
        self.flv(key, Op::Close, 0.0)
    }
}
