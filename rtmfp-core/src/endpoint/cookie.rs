//! Stateless RHello cookies (RFC 7016 §3.5.1.1.2, §3.5.1.2).
//!
//! A cookie is `version ‖ issued ‖ tag(slot, issued) ‖ tag(slot,
//! address)`, where `issued` is when it was made (10 ms ticks, the low 32
//! bits), the slot is the time slot of that moment, and each tag is a
//! truncated HMAC-SHA256 under a key derived from a random master secret
//! and the slot.  The responder keeps no state per initiator: it
//! recomputes the tags when the cookie comes back in an IIKeying.  The key
//! changes every slot, so the secret rotates by itself and old cookies
//! expire.  The first tag does not depend on the address, which is how a
//! cookie that is authentic but from another address is recognised for a
//! Cookie Change (§3.5.1.2).  When a cookie was made tells a glare
//! remnant from a new session (see [`CookieJar::issued`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 2;
/// The unit of a cookie's `issued` time.
const TICK_MS: u64 = 10;
const SLOT_TAG_LEN: usize = 27;
const ADDRESS_TAG_LEN: usize = 32;
/// Length of every cookie this module makes: 64 bytes, the size Adobe's
/// servers sent and Flash-era initiators (librtmfp) insist on, although
/// RFC 7016 §2.3.3 lets a cookie be any length.
pub const COOKIE_LEN: usize = 1 + 4 + SLOT_TAG_LEN + ADDRESS_TAG_LEN;
/// How many slots back a cookie is still accepted, besides the current.
/// With slots of at least 48 s a cookie lives at least 96 s, over the
/// 95 s the RFC asks for.
const SLOTS_BACK: u32 = 2;

/// What a returned cookie turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieCheck {
    /// Made here, still fresh, for this address.
    Valid,
    /// Made here and fresh, but for another address: send a Cookie Change.
    OtherAddress,
    /// Not made here, or expired.
    Invalid,
}

/// Makes and checks cookies.
#[derive(Debug, Clone)]
pub struct CookieJar {
    master: [u8; 32],
    epoch: Instant,
    slot: Duration,
}

impl CookieJar {
    /// A jar with a random master secret; slots count from `epoch`.
    pub fn new(master: [u8; 32], epoch: Instant, slot: Duration) -> Self {
        let slot = slot.max(Duration::from_secs(48));
        CookieJar {
            master,
            epoch,
            slot,
        }
    }

    /// Ticks since the epoch at `now`.
    fn ticks_at(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64 / TICK_MS
    }

    /// The slot of tick `ticks`.
    fn slot_of(&self, ticks: u64) -> u32 {
        (u128::from(ticks * TICK_MS) / self.slot.as_millis()) as u32
    }

    /// The full tick a cookie's 32-bit `issued` field stands for: the
    /// latest one at or before `now` with those low bits (cookies live
    /// minutes, the field wraps after 497 days).
    fn issued_ticks(&self, now: Instant, low: u32) -> u64 {
        let now_ticks = self.ticks_at(now);
        let age = (now_ticks as u32).wrapping_sub(low);
        now_ticks.saturating_sub(u64::from(age))
    }

    fn mac(&self, slot: u32) -> HmacSha256 {
        let mut key = HmacSha256::new_from_slice(&self.master).expect("any key length");
        key.update(b"rtmfp cookie slot key");
        key.update(&slot.to_be_bytes());
        let slot_key = key.finalize().into_bytes();
        HmacSha256::new_from_slice(&slot_key).expect("any key length")
    }

    fn slot_tag(&self, slot: u32, issued: u32) -> [u8; SLOT_TAG_LEN] {
        let mut mac = self.mac(slot);
        mac.update(b"slot");
        mac.update(&issued.to_be_bytes());
        let mut out = [0; SLOT_TAG_LEN];
        out.copy_from_slice(&mac.finalize().into_bytes()[..SLOT_TAG_LEN]);
        out
    }

    fn address_tag(&self, slot: u32, address: SocketAddr) -> [u8; ADDRESS_TAG_LEN] {
        let mut mac = self.mac(slot);
        mac.update(b"addr");
        match address.ip() {
            IpAddr::V4(ip) => mac.update(&ip.octets()),
            IpAddr::V6(ip) => mac.update(&ip.octets()),
        }
        mac.update(&address.port().to_be_bytes());
        let mut out = [0; ADDRESS_TAG_LEN];
        out.copy_from_slice(&mac.finalize().into_bytes()[..ADDRESS_TAG_LEN]);
        out
    }

    /// A cookie for an IHello received from `address` at `now`.
    pub fn make(&self, now: Instant, address: SocketAddr) -> Vec<u8> {
        let ticks = self.ticks_at(now);
        let (slot, issued) = (self.slot_of(ticks), ticks as u32);
        let mut cookie = Vec::with_capacity(COOKIE_LEN);
        cookie.push(VERSION);
        cookie.extend_from_slice(&issued.to_be_bytes());
        cookie.extend_from_slice(&self.slot_tag(slot, issued));
        cookie.extend_from_slice(&self.address_tag(slot, address));
        cookie
    }

    /// A cookie's `issued` field.
    fn issued_field(cookie: &[u8]) -> Option<u32> {
        if cookie.len() != COOKIE_LEN || cookie[0] != VERSION {
            return None;
        }
        Some(u32::from_be_bytes([
            cookie[1], cookie[2], cookie[3], cookie[4],
        ]))
    }

    /// Checks a cookie echoed in an IIKeying from `address`.
    pub fn check(&self, now: Instant, address: SocketAddr, cookie: &[u8]) -> CookieCheck {
        let Some(issued) = Self::issued_field(cookie) else {
            return CookieCheck::Invalid;
        };
        let slot = self.slot_of(self.issued_ticks(now, issued));
        let current = self.slot_of(self.ticks_at(now));
        if slot > current || current - slot > SLOTS_BACK {
            return CookieCheck::Invalid;
        }
        let slot_tag = &cookie[5..5 + SLOT_TAG_LEN];
        if !constant_time_eq(slot_tag, &self.slot_tag(slot, issued)) {
            return CookieCheck::Invalid;
        }
        let address_tag = &cookie[5 + SLOT_TAG_LEN..];
        if constant_time_eq(address_tag, &self.address_tag(slot, address)) {
            CookieCheck::Valid
        } else {
            CookieCheck::OtherAddress
        }
    }

    /// When a cookie that [`CookieJar::check`] found authentic was made,
    /// to 10 ms (rounded down).  An IIKeying is a remnant of glare when it
    /// echoes a cookie made before the session it would override opened
    /// (see `Endpoint`'s IIKeying handling).
    pub fn issued(&self, now: Instant, cookie: &[u8]) -> Option<Instant> {
        let ticks = self.issued_ticks(now, Self::issued_field(cookie)?);
        Some(self.epoch + Duration::from_millis(ticks * TICK_MS))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jar(now: Instant) -> CookieJar {
        CookieJar::new([7; 32], now, Duration::from_secs(60))
    }

    #[test]
    fn valid_other_address_expired_and_forged() {
        let t0 = Instant::now();
        let jar = jar(t0);
        let a: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let b: SocketAddr = "192.0.2.1:5001".parse().unwrap();
        let cookie = jar.make(t0, a);
        assert_eq!(cookie.len(), COOKIE_LEN);
        assert_eq!(COOKIE_LEN, 64, "the size Flash-era initiators expect");
        assert_eq!(jar.check(t0, a, &cookie), CookieCheck::Valid);
        assert_eq!(jar.check(t0, b, &cookie), CookieCheck::OtherAddress);
        // Still valid after the 95 s open timeout...
        assert_eq!(
            jar.check(t0 + Duration::from_secs(119), a, &cookie),
            CookieCheck::Valid
        );
        // ...but not forever.
        assert_eq!(
            jar.check(t0 + Duration::from_secs(181), a, &cookie),
            CookieCheck::Invalid
        );
        // Another jar (another master secret) does not recognise it.
        let other = CookieJar::new([8; 32], t0, Duration::from_secs(60));
        assert_eq!(other.check(t0, a, &cookie), CookieCheck::Invalid);
        // Any flipped bit is caught.
        for i in 0..cookie.len() {
            let mut forged = cookie.clone();
            forged[i] ^= 0x01;
            assert_ne!(jar.check(t0, a, &forged), CookieCheck::Valid, "byte {i}");
        }
        assert_eq!(jar.check(t0, a, &cookie[..10]), CookieCheck::Invalid);
    }

    #[test]
    fn a_cookie_says_when_it_was_made() {
        let t0 = Instant::now();
        let jar = jar(t0);
        let a: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let made = t0 + Duration::from_millis(12_345);
        let cookie = jar.make(made, a);
        let later = made + Duration::from_secs(90);
        assert_eq!(jar.check(later, a, &cookie), CookieCheck::Valid);
        let issued = jar.issued(later, &cookie).unwrap();
        assert!(issued <= made && made - issued < Duration::from_millis(10));
        // The field wraps after 497 days; a cookie is still placed right.
        let old_epoch = t0;
        let long_after = old_epoch + Duration::from_secs(500 * 86_400);
        let now_jar = CookieJar::new([7; 32], old_epoch, Duration::from_secs(60));
        let cookie = now_jar.make(long_after, a);
        let checked = long_after + Duration::from_secs(30);
        assert_eq!(now_jar.check(checked, a, &cookie), CookieCheck::Valid);
        let issued = now_jar.issued(checked, &cookie).unwrap();
        assert!(issued <= long_after && long_after - issued < Duration::from_millis(10));
        // The time is authenticated: another `issued` breaks the tag.
        let mut forged = now_jar.make(long_after, a);
        forged[4] ^= 0x01;
        assert_eq!(now_jar.check(checked, a, &forged), CookieCheck::Invalid);
    }

    #[test]
    fn future_slot_is_invalid() {
        let t0 = Instant::now();
        let jar = jar(t0);
        let a: SocketAddr = "[2001:db8::1]:1935".parse().unwrap();
        let later = jar.make(t0 + Duration::from_secs(120), a);
        assert_eq!(jar.check(t0, a, &later), CookieCheck::Invalid);
    }
}
