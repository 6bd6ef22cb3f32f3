//! FLV byte streams on a NetStream (issue 16): core's
//! `rtmfp_core::flash::flv_io`, each call on a libuv worker (they wait
//! for the I/O thread, for room or for bytes), never on the JS thread.
//! Waits are bounded (`waitMs`); the JS `Writable` and `Readable`
//! (`lib/netconnection.js`) call again until done.

use crate::errors::{self, Code};
use crate::netconnection::Keys;
use crate::object::lock;
use napi::bindgen_prelude::Buffer;
use napi::{Env, Task};
use napi_derive::napi;
use rtmfp_core::flash::client::ClientError;
use rtmfp_core::flash::flv_io::FlvIoError;
use rtmfp_core::flash::{
    FlashClient, NetConnection as CoreNetConnection, NetStream as CoreNetStream,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one FLV call does.
pub enum Op {
    /// `start_flv_read(windowMs)`.
    StartRead(u32),
    /// `write_flv` of these bytes.
    Write(Vec<u8>),
    /// `flush_flv`.
    Flush,
    /// `read_flv` of at most this many bytes.
    Read(usize),
    /// Core's `NetStream::close` (its FLV reader ends at once).
    Close,
}

/// How an FLV call ended, as JS receives it: at most one field is set
/// (none: started, closed, or nothing to read within the wait).
#[napi(object)]
pub struct FlvOutcome {
    /// Write: the bytes taken (0: no room within the wait).
    pub count: Option<u32>,
    /// Read: the bytes (empty: the end of the stream).
    pub data: Option<Buffer>,
    /// Flush: whether everything was sent and acknowledged.
    pub flushed: Option<bool>,
    /// A failure: its `err.code` and message.
    pub code: Option<String>,
    pub message: Option<String>,
}

pub enum Done {
    Count(usize),
    Bytes(Vec<u8>),
    Flushed(bool),
    Nothing,
    Failed(Code, String),
}

/// One FLV call of NetStream `key`, on a libuv worker.
pub struct FlvTask {
    pub nc: Arc<CoreNetConnection>,
    pub keys: Arc<Mutex<Keys>>,
    pub key: u32,
    pub op: Op,
    pub wait: Duration,
}

impl FlvTask {
    /// Core's NetStream for `key`.  Its creation may still be on its way
    /// to the I/O thread: one round trip there lets it arrive.
    fn stream(&self) -> Result<CoreNetStream, FlvIoError> {
        let id = || lock(&self.keys).by_key.get(&self.key).copied();
        if id().is_none() {
            self.nc
                .handle()
                .call_layer::<FlashClient, _, _>(|_, _, _| ())
                .map_err(|e| FlvIoError::Net(e.into()))?;
        }
        let id = id().ok_or(FlvIoError::Net(ClientError::UnknownStream.into()))?;
        Ok(self.nc.net_stream(id))
    }

    fn run(&mut self) -> Result<Done, FlvIoError> {
        let s = self.stream()?;
        let wait = Some(self.wait);
        match &self.op {
            Op::StartRead(window_ms) => s.start_flv_read(*window_ms).map(|()| Done::Nothing),
            Op::Write(bytes) => match s.write_flv_timeout(bytes, wait) {
                Err(FlvIoError::WouldBlock) => Ok(Done::Count(0)),
                other => other.map(Done::Count),
            },
            Op::Flush => match s.flush_flv(wait) {
                Err(FlvIoError::WouldBlock) => Ok(Done::Flushed(false)),
                other => other.map(|()| Done::Flushed(true)),
            },
            Op::Read(size) => {
                let mut buf = vec![0u8; *size];
                match s.read_flv_timeout(&mut buf, wait) {
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(Done::Bytes(buf))
                    }
                    Err(FlvIoError::WouldBlock) => Ok(Done::Nothing),
                    Err(e) => Err(e),
                }
            }
            Op::Close => {
                // A closed connection has closed its streams already.
                let _ = s.close();
                Ok(Done::Nothing)
            }
        }
    }
}

impl Task for FlvTask {
    type Output = Done;
    type JsValue = FlvOutcome;

    fn compute(&mut self) -> napi::Result<Done> {
        Ok(self.run().unwrap_or_else(|e| {
            let (code, message) = errors::describe(&e);
            Done::Failed(code, message)
        }))
    }

    fn resolve(&mut self, _: Env, done: Done) -> napi::Result<FlvOutcome> {
        let mut out = FlvOutcome {
            count: None,
            data: None,
            flushed: None,
            code: None,
            message: None,
        };
        match done {
            Done::Count(n) => out.count = Some(n as u32),
            Done::Bytes(bytes) => out.data = Some(Buffer::from(bytes)),
            Done::Flushed(f) => out.flushed = Some(f),
            Done::Nothing => {}
            Done::Failed(code, message) => {
                out.code = Some(code.as_str().to_owned());
                out.message = Some(message);
            }
        }
        Ok(out)
    }
}
