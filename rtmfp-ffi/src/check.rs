//! `rtmfp_check`: the C face of `rtmfp check` (rtmfp_core::flash::check).

use crate::config::{self, rtmfp_config};
use crate::error::{Error, RTMFP_ERR_BUFFER_TOO_SMALL, RTMFP_ERR_IO, RTMFP_OK};
use crate::guard::ffi_guard;
use crate::util::{cstr, invalid};
use rtmfp_core::flash::check::{check, CheckOptions};
use rtmfp_core::flash::{check_uri, NetConnectionConfig};
use std::ffi::{c_char, c_int};
use std::time::Duration;

/// Tell whether UDP reaches an RTMFP server, at what address it sees us,
/// and what this host's NAT does (mapping and filtering, RFC 5780), as
/// `rtmfp check` does: `uri` is "rtmfp://HOST[:PORT][/APP[/KEY]]". `cfg`
/// (NULL: defaults) gives the bind address, the negotiation policies and a
/// TURN proxy (rtmfp_config_set_turn_proxy: the check then also tells
/// whether that relay works). Blocks for up to `timeout_ms` (0: 5000) and
/// about three seconds more.
///
/// The report, one line per finding ("server", "udp" or "turn", "public",
/// "check", "mapping", "filtering", "unsolicited", "verdict", each key padded to 12
/// columns), is written to `report` (NUL-terminated) when `report` is not
/// NULL; a report that does not fit is cut at `report_len - 1` bytes and
/// the call returns RTMFP_ERR_BUFFER_TOO_SMALL. 4096 bytes always suffice.
///
/// Returns RTMFP_OK when the server answered; RTMFP_ERR_IO when it did not
/// (the "udp" line and rtmfp_last_error_message() say why);
/// RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT for a URI that is not rtmfp://.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `uri` must be a NUL-terminated string; `report` NULL or writable for
/// `report_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_check(
    cfg: *const rtmfp_config,
    uri: *const c_char,
    timeout_ms: u32,
    report: *mut c_char,
    report_len: usize,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        let text = unsafe { cstr(uri, "uri")? };
        let uri = check_uri(text).map_err(invalid)?;
        let mut config = NetConnectionConfig::default();
        if !cfg.is_null() {
            config = config::snapshot(cfg)?.netconnection_config()?;
        }
        let timeout = Duration::from_millis(if timeout_ms == 0 {
            5000
        } else {
            u64::from(timeout_ms)
        });
        let found = check(
            &uri,
            CheckOptions {
                config,
                timeout,
                stun: None,
            },
        );
        let words = found.text(&uri);
        let mut fits = true;
        if !report.is_null() && report_len > 0 {
            let n = words.len().min(report_len - 1);
            fits = n == words.len();
            // SAFETY: `report` is writable for `report_len > n` bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(words.as_ptr(), report.cast::<u8>(), n);
                report.add(n).write(0);
            }
        }
        if let Some(why) = &found.connect_error {
            return Err(Error::new(
                RTMFP_ERR_IO,
                format!("no session with the server at {uri}: {why}"),
            ));
        }
        if !fits {
            return Err(Error::new(
                RTMFP_ERR_BUFFER_TOO_SMALL,
                format!("the report needs {} bytes", words.len() + 1),
            ));
        }
        Ok(RTMFP_OK)
    })
}
