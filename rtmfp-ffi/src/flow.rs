//! Flows (RFC 7016 §3.6): open, send with options, accept, reject, close.
//!
//! A flow is named by its session and a `uint64_t` flow ID. Sending flows
//! (from rtmfp_flow_open()) and receiving flows (from FLOW_OPENED events)
//! are numbered independently, so the same number may name one of each;
//! every function says which kind it takes.

use std::ffi::c_int;
use std::time::Duration;

use rtmfp_core::flow::{DeliveryOrder, MessageOptions, Priority};

use crate::endpoint::{on_session, rtmfp_endpoint};
use crate::error::{Error, RTMFP_OK};
use crate::guard::ffi_guard;
use crate::util::{bytes, invalid, write_out};

/// Largest per-flow metadata, in bytes (RFC 7016 §2.3.11.1.1).
pub const RTMFP_MAX_METADATA_LEN: usize = 512;

/// Largest message rtmfp_flow_send() takes, in bytes (16 MiB).
pub const RTMFP_MAX_MESSAGE_LEN: usize = 1 << 24;

/// Flow priorities (RFC 7016 §3.6.2.1 precedence), lowest first. Flows
/// above RTMFP_PRIORITY_ROUTINE are Time Critical. Pass to
/// rtmfp_flow_open().
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_priority {
    /// Background transfers.
    Background = 0,
    /// Bulk data.
    Bulk = 1,
    /// Ordinary data.
    Data = 2,
    /// The default: the highest level that is not time critical.
    Routine = 3,
    /// Time critical (e.g. video).
    Priority = 4,
    /// Time critical (e.g. audio).
    Immediate = 5,
    /// Time critical.
    Flash = 6,
    /// The highest.
    FlashOverride = 7,
}

/// How a receiving flow delivers messages (RFC 7016 §3.6.3.3). Pass to
/// rtmfp_flow_accept().
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_order {
    /// In the order the sender queued them (the usual choice).
    Sequence = 0,
    /// Each as soon as it is complete, in network order.
    Network = 1,
}

/// Options of one message for rtmfp_flow_send(). An all-zero struct (or
/// a NULL pointer) means: no deadlines, retransmit until acknowledged, no
/// parent.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtmfp_send_options {
    /// Abandon the message unless its first transmission starts within
    /// this many milliseconds of the call; 0 = no limit.
    pub start_within_ms: u32,
    /// Abandon the message unless it is fully acknowledged within this
    /// many milliseconds of the call; 0 = no limit.
    pub finish_within_ms: u32,
    /// Send each fragment at most once: a loss abandons the message.
    pub no_retransmit: bool,
    /// Whether `parent` is set.
    pub has_parent: bool,
    /// Abandon this message if this earlier message of the same flow is
    /// abandoned (e.g. P-frames chained to their keyframe).
    pub parent: u64,
}

impl rtmfp_send_options {
    fn to_core(self) -> MessageOptions {
        let limit = |ms: u32| (ms > 0).then(|| Duration::from_millis(u64::from(ms)));
        MessageOptions {
            start_within: limit(self.start_within_ms),
            finish_within: limit(self.finish_within_ms),
            no_retransmit: self.no_retransmit,
            parent: self.has_parent.then_some(self.parent),
        }
    }
}

/// Open a sending flow on an open session, with `metadata_len` (0 to
/// RTMFP_MAX_METADATA_LEN) bytes of per-flow metadata that the far end
/// sees in its FLOW_OPENED event, at `priority` (an rtmfp_priority, 0 to
/// 7). `association` is NULL, or points to the ID of one of this
/// session's receiving flows that the new flow answers (a return flow,
/// RFC 7016 §2.3.11.1.2). The sending flow's ID is stored in `*flow_out`.
///
/// Returns RTMFP_OK; RTMFP_ERR_WRONG_STATE if the session is still opening
/// or is closing; RTMFP_ERR_INVALID_HANDLE if there is no such session (or
/// no such receiving flow to associate with); RTMFP_ERR_INVALID_ARGUMENT
/// for a bad priority or too much metadata; RTMFP_ERR_CLOSED after
/// rtmfp_endpoint_close(); RTMFP_ERR_NULL_POINTER.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `metadata` must be NULL or valid for reading `metadata_len` bytes;
/// `association` NULL or valid for reading a `uint64_t`; `flow_out` NULL
/// or valid for writing a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_flow_open(
    ep: *mut rtmfp_endpoint,
    session: u64,
    metadata: *const u8,
    metadata_len: usize,
    priority: c_int,
    association: *const u64,
    flow_out: *mut u64,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        let metadata =
            unsafe { bytes(metadata, metadata_len, "metadata", RTMFP_MAX_METADATA_LEN)? };
        let priority = u8::try_from(priority)
            .ok()
            .filter(|p| *p <= 7)
            .map(Priority::from_level)
            .ok_or_else(|| {
                invalid(format!(
                    "priority {priority} is not an RTMFP_PRIORITY_* value (0..=7)"
                ))
            })?;
        // SAFETY: NULL or readable by contract.
        let association = unsafe { association.as_ref() }.copied();
        if flow_out.is_null() {
            return Err(Error::null_pointer("flow_out"));
        }
        let flow = on_session(ep, session, |h, s| {
            h.open_flow(s, metadata, priority, association)
        })?;
        // SAFETY: non-NULL, writable by contract.
        unsafe { write_out(flow_out, flow, "flow_out")? };
        Ok(RTMFP_OK)
    })
}

/// Queue one message of `len` bytes (0 to RTMFP_MAX_MESSAGE_LEN; `data`
/// may be NULL when `len` is 0: an empty message is valid) on a sending
/// flow. The bytes are copied before the call returns. `options` is NULL
/// for the defaults. The message's ID is stored in `*message_out` unless
/// it is NULL; the write receipt (MESSAGE_DELIVERED or MESSAGE_ABANDONED)
/// carries it.
///
/// Returns RTMFP_OK; RTMFP_ERR_AGAIN if the flow's send buffer is full
/// (wait for FLOW_WRITABLE, then send again); RTMFP_ERR_CLOSED if the flow
/// is closed or rejected, or after rtmfp_endpoint_close();
/// RTMFP_ERR_WRONG_STATE if the session is still opening or closing;
/// RTMFP_ERR_INVALID_HANDLE if there is no such session or sending flow;
/// RTMFP_ERR_INVALID_ARGUMENT if `len` is too large;
/// RTMFP_ERR_NULL_POINTER for NULL `data` with `len` > 0.
///
/// Thread safety: safe from any thread; messages sent on one flow from
/// several threads at once are queued in the order the calls reach the
/// endpoint.
///
/// # Safety
/// `data` must be NULL or valid for reading `len` bytes; `options` NULL or
/// valid for reading an rtmfp_send_options; `message_out` NULL or valid
/// for writing a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_flow_send(
    ep: *mut rtmfp_endpoint,
    session: u64,
    flow: u64,
    data: *const u8,
    len: usize,
    options: *const rtmfp_send_options,
    message_out: *mut u64,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        let data = unsafe { bytes(data, len, "data", RTMFP_MAX_MESSAGE_LEN)? };
        // SAFETY: NULL or readable by contract.
        let options = unsafe { options.as_ref() }.copied().unwrap_or_default();
        let id = on_session(ep, session, |h, s| h.send(s, flow, data, options.to_core()))?;
        if !message_out.is_null() {
            // SAFETY: non-NULL, writable by contract.
            unsafe { message_out.write(id) };
        }
        Ok(RTMFP_OK)
    })
}

/// Whether a sending flow takes a message now (its send buffer is below
/// its limit).
///
/// Returns 1 (writable) or 0 (full: wait for FLOW_WRITABLE);
/// RTMFP_ERR_WRONG_STATE; RTMFP_ERR_INVALID_HANDLE if there is no such
/// session or sending flow; RTMFP_ERR_CLOSED; RTMFP_ERR_NULL_POINTER.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_flow_writable(ep: *mut rtmfp_endpoint, session: u64, flow: u64) -> c_int {
    ffi_guard(|| {
        let writable = on_session(ep, session, |h, s| h.flow_writable(s, flow))?;
        Ok(c_int::from(writable))
    })
}

/// Accept a receiving flow announced by FLOW_OPENED; its messages are
/// delivered as MESSAGE events from now on, in `order` (an rtmfp_order).
/// Accepting an accepted flow again is harmless.
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_ARGUMENT for a bad `order`;
/// RTMFP_ERR_INVALID_HANDLE if there is no such session or receiving flow;
/// RTMFP_ERR_WRONG_STATE; RTMFP_ERR_CLOSED; RTMFP_ERR_NULL_POINTER.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_flow_accept(
    ep: *mut rtmfp_endpoint,
    session: u64,
    flow: u64,
    order: c_int,
) -> c_int {
    ffi_guard(|| {
        let order = match order {
            0 => DeliveryOrder::Sequence,
            1 => DeliveryOrder::Network,
            _ => {
                return Err(invalid(format!(
                    "order {order} is not an RTMFP_ORDER_* value (0..=1)"
                )))
            }
        };
        on_session(ep, session, |h, s| h.accept_flow(s, flow, order))?;
        Ok(RTMFP_OK)
    })
}

/// Reject a receiving flow with an application exception `code` (the
/// sender sees FLOW_REJECTED with it); its messages are dropped.
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_HANDLE if there is no such session
/// or receiving flow; RTMFP_ERR_WRONG_STATE; RTMFP_ERR_CLOSED;
/// RTMFP_ERR_NULL_POINTER.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_flow_reject(
    ep: *mut rtmfp_endpoint,
    session: u64,
    flow: u64,
    code: u64,
) -> c_int {
    ffi_guard(|| {
        on_session(ep, session, |h, s| h.reject_flow(s, flow, code))?;
        Ok(RTMFP_OK)
    })
}

/// Close a sending flow: queued messages are still delivered, then the far
/// end sees FLOW_FINISHED and this end FLOW_COMPLETE.
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_HANDLE if there is no such session
/// or sending flow; RTMFP_ERR_CLOSED if it is already closed, or after
/// rtmfp_endpoint_close(); RTMFP_ERR_WRONG_STATE; RTMFP_ERR_NULL_POINTER.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_flow_close(ep: *mut rtmfp_endpoint, session: u64, flow: u64) -> c_int {
    ffi_guard(|| {
        on_session(ep, session, |h, s| h.close_flow(s, flow))?;
        Ok(RTMFP_OK)
    })
}

/// Suspend (`suspended` true) or resume delivery on a receiving flow.
/// While suspended, messages wait and the flow's receive window closes,
/// which slows the sender down (flow control).
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_HANDLE if there is no such session
/// or receiving flow; RTMFP_ERR_WRONG_STATE; RTMFP_ERR_CLOSED;
/// RTMFP_ERR_NULL_POINTER.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_flow_set_suspended(
    ep: *mut rtmfp_endpoint,
    session: u64,
    flow: u64,
    suspended: bool,
) -> c_int {
    ffi_guard(|| {
        on_session(ep, session, |h, s| h.set_flow_suspended(s, flow, suspended))?;
        Ok(RTMFP_OK)
    })
}

/// Abandon a queued message of a sending flow, and the messages chained to
/// it as their parent; each gets MESSAGE_ABANDONED.
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_HANDLE if there is no such session
/// or sending flow; RTMFP_ERR_WRONG_STATE; RTMFP_ERR_CLOSED;
/// RTMFP_ERR_NULL_POINTER.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_flow_abandon_message(
    ep: *mut rtmfp_endpoint,
    session: u64,
    flow: u64,
    message: u64,
) -> c_int {
    ffi_guard(|| {
        on_session(ep, session, |h, s| h.abandon_message(s, flow, message))?;
        Ok(RTMFP_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{
        RTMFP_ERR_INVALID_ARGUMENT, RTMFP_ERR_INVALID_HANDLE, RTMFP_ERR_NULL_POINTER,
    };
    use std::ptr::{null, null_mut};

    #[test]
    fn options_map_to_core() {
        let o = rtmfp_send_options::default().to_core();
        assert_eq!(o, MessageOptions::default());
        let o = rtmfp_send_options {
            start_within_ms: 0,
            finish_within_ms: 250,
            no_retransmit: true,
            has_parent: true,
            parent: 9,
        }
        .to_core();
        assert_eq!(o.start_within, None);
        assert_eq!(o.finish_within, Some(Duration::from_millis(250)));
        assert!(o.no_retransmit);
        assert_eq!(o.parent, Some(9));
    }

    #[test]
    fn arguments_are_checked_before_the_endpoint() {
        let ep = null_mut();
        let mut out = 0;
        // SAFETY: NULL or valid pointers as documented.
        unsafe {
            assert_eq!(
                rtmfp_flow_open(ep, 1, null(), 513, 3, null(), &mut out),
                RTMFP_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                rtmfp_flow_open(ep, 1, null(), 0, 8, null(), &mut out),
                RTMFP_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                rtmfp_flow_open(ep, 1, null(), 0, 3, null(), &mut out),
                RTMFP_ERR_NULL_POINTER
            );
            assert_eq!(
                rtmfp_flow_send(ep, 1, 1, null(), 1, null(), null_mut()),
                RTMFP_ERR_NULL_POINTER
            );
            let byte = 0u8;
            assert_eq!(
                rtmfp_flow_send(ep, 1, 1, &byte, usize::MAX, null(), null_mut()),
                RTMFP_ERR_INVALID_ARGUMENT
            );
        }
        let stale = 0x0200_0001_ffff_fff0_u64 as usize as *mut rtmfp_endpoint;
        assert_eq!(rtmfp_flow_accept(stale, 1, 1, 0), RTMFP_ERR_INVALID_HANDLE);
        assert_eq!(
            rtmfp_flow_accept(stale, 1, 1, 7),
            RTMFP_ERR_INVALID_ARGUMENT
        );
        assert_eq!(rtmfp_flow_close(stale, 1, 1), RTMFP_ERR_INVALID_HANDLE);
    }
}
