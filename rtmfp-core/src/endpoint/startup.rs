//! Session startup: the four-way handshake, cookies, redirects, glare and
//! Forwarded IHellos (RFC 7016 §3.5.1).

use super::opening::{next_retry, KeyingSent, OpeningState, ParkedRHello, INITIAL_RETRY};
use super::{
    CookieCheck, DropReason, Endpoint, Event, FIHelloPolicy, OpenFailure, Role, SessionHandle,
};
use super::{KeyingDone, KeyingJob, Outcome, Pending, PendingIIKeying, Work};
use crate::crypto::SessionKeys;
use crate::session::{ResponderReplay, Session, SessionSetup, SessionState};
use crate::wire::{
    chunk::{chunk_allowed_in, CookieChange, IHello, IIKeying, RHello, RIKeying, Redirect},
    Chunk, Mode, Packet,
};
use rand::RngCore;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::time::Instant;

impl Endpoint {
    /// Sends what an opening session owes at `now` and fails it at the
    /// ultimate open timeout (§3.5.1.1.1).
    pub(super) fn drive_opening(&mut self, now: Instant, handle: SessionHandle) {
        let Some(opening) = self.openings.get_mut(&handle) else {
            return;
        };
        if now.saturating_duration_since(opening.started) >= self.config.open_timeout {
            return self.fail_opening(handle, OpenFailure::Timeout);
        }
        let mut ihello = Vec::new();
        let mut due = Vec::new();
        match &mut opening.state {
            OpeningState::IHelloSent => {
                for candidate in &mut opening.candidates {
                    if candidate.next_send <= now {
                        due.push(candidate.address);
                        candidate.next_send = now + candidate.interval;
                        candidate.interval = next_retry(candidate.interval);
                    }
                }
                if !due.is_empty() {
                    let chunk = Chunk::IHello(IHello {
                        epd: &opening.epd,
                        tag: &opening.tag,
                    });
                    let _ = chunk.encode(&mut ihello);
                }
            }
            OpeningState::KeyingSent(keying) => {
                if keying.next_send <= now {
                    due.push(keying.dest);
                    ihello = keying.iikeying_chunk.clone();
                    keying.next_send = now + keying.interval;
                    keying.interval = next_retry(keying.interval);
                }
            }
        }
        for address in due {
            self.send_startup_encoded(now, address, 0, &ihello);
        }
    }

    /// A startup-mode packet: session ID 0, or an opening session's receive
    /// ID (RIKeying, Cookie Change).  Default Session Key.
    pub(super) fn handle_startup_packet(
        &mut self,
        now: Instant,
        from: SocketAddr,
        opening: Option<SessionHandle>,
        encrypted: &[u8],
    ) {
        let mut plain = Vec::with_capacity(encrypted.len());
        if self.default_crypto.decrypt(encrypted, &mut plain).is_err() {
            return self.drop_counted(DropReason::Integrity);
        }
        self.handle_startup_plain(now, from, opening, &plain, true);
    }

    /// A startup packet, decrypted: its chunks in order.  With
    /// `outermost`, Packet Fragments are reassembled (§3.4) and the whole
    /// packet handled in turn; a reassembled packet's own fragments are
    /// dropped.
    fn handle_startup_plain(
        &mut self,
        now: Instant,
        from: SocketAddr,
        opening: Option<SessionHandle>,
        plain: &[u8],
        outermost: bool,
    ) {
        let Ok(packet) = Packet::parse(plain) else {
            return self.drop_counted(DropReason::BadHeader);
        };
        if packet.header.mode != Mode::Startup {
            return self.drop_counted(DropReason::WrongMode);
        }
        for raw in packet.chunks() {
            if !chunk_allowed_in(raw.chunk_type, Mode::Startup) {
                self.drop_counted(DropReason::ChunkInWrongMode);
                continue;
            }
            let chunk = match raw.decode() {
                Ok(chunk) => chunk,
                Err(_) => {
                    self.drop_counted(DropReason::MalformedChunk);
                    continue;
                }
            };
            match (opening, chunk) {
                (_, Chunk::Fragment(f)) if outermost => {
                    match self.fragments.add(now, from, opening, &f) {
                        Ok(Some(whole)) => {
                            self.handle_startup_plain(now, from, opening, &whole, false)
                        }
                        Ok(None) => {}
                        Err(reason) => self.drop_counted(reason),
                    }
                }
                (None, Chunk::IHello(c)) => self.on_ihello(now, from, c.epd, c.tag),
                (None, Chunk::RHello(c)) => self.on_rhello(now, from, c),
                (None, Chunk::Redirect(c)) => self.on_redirect(now, from, c),
                (None, Chunk::IIKeying(c)) => {
                    let signed = c.signed_parameters(raw.payload).to_vec();
                    self.on_iikeying(now, from, c, &signed)
                }
                (Some(handle), Chunk::RIKeying(c)) => {
                    let signed = c.signed_portion(raw.payload).to_vec();
                    self.on_rikeying(now, handle, c, &signed)
                }
                (Some(handle), Chunk::CookieChange(c)) => self.on_cookie_change(now, handle, c),
                _ => self.drop_counted(DropReason::Ignored),
            }
        }
    }

    /// IHello (§3.5.1.1.2): answer statelessly with an RHello if the EPD
    /// selects us; otherwise tell the application, which may introduce.
    fn on_ihello(&mut self, now: Instant, from: SocketAddr, epd: &[u8], tag: &[u8]) {
        if self.crypto.epd_selects_me(epd) {
            self.send_rhello(now, from, tag);
        } else if self.unmatched_queued >= self.config.max_queued_unmatched {
            self.drop_counted(DropReason::QueueFull);
        } else {
            self.unmatched_queued += 1;
            self.events.push_back(Event::UnmatchedIHello {
                epd: epd.to_vec(),
                tag: tag.to_vec(),
                from,
            });
        }
    }

    fn send_rhello(&mut self, now: Instant, to: SocketAddr, tag: &[u8]) {
        let cookie = self.cookies.make(now, to);
        let crypto = self.crypto.clone();
        let chunk = Chunk::RHello(RHello {
            tag_echo: tag,
            cookie: &cookie,
            certificate: crypto.certificate(),
        });
        self.send_startup(now, to, 0, &chunk);
    }

    /// A Forwarded IHello that arrived over an open session (§3.5.1.5).
    pub(super) fn on_forwarded_ihello(
        &mut self,
        now: Instant,
        epd: &[u8],
        tag: &[u8],
        reply: SocketAddr,
    ) {
        if !self.crypto.epd_selects_me(epd) {
            return self.drop_counted(DropReason::Ignored);
        }
        match self.config.fihello_policy {
            FIHelloPolicy::RespondWithRHello => self.send_rhello(now, reply, tag),
            FIHelloPolicy::ImpliedRedirect => self.send_redirect(now, reply, tag, &[]),
            FIHelloPolicy::Ignore => self.drop_counted(DropReason::Ignored),
        }
    }

    /// Redirect (§3.5.1.1.1): more candidates for an S_IHELLO_SENT opening.
    fn on_redirect(&mut self, now: Instant, from: SocketAddr, redirect: Redirect<'_>) {
        let Some(&handle) = self.opening_by_tag.get(redirect.tag_echo) else {
            return self.drop_counted(DropReason::NoMatchingOpening);
        };
        let limit = self.config.redirect_threshold;
        let Some(opening) = self.openings.get_mut(&handle) else {
            return;
        };
        if !matches!(opening.state, OpeningState::IHelloSent) {
            return self.drop_counted(DropReason::Ignored);
        }
        if redirect.addresses.is_empty() {
            opening.add_candidate(from, now, limit);
        } else {
            for address in redirect.addresses.iter() {
                opening.add_candidate(address.addr, now, limit);
            }
        }
        self.drive_opening(now, handle);
    }

    /// RHello (§3.5.1.1.1): the first good one moves us to S_KEYING_SENT.
    fn on_rhello(&mut self, now: Instant, from: SocketAddr, rhello: RHello<'_>) {
        let Some(&handle) = self.opening_by_tag.get(rhello.tag_echo) else {
            return self.drop_counted(DropReason::NoMatchingOpening);
        };
        let Some(opening) = self.openings.get(&handle) else {
            return;
        };
        if !matches!(opening.state, OpeningState::IHelloSent) {
            return self.drop_counted(DropReason::Ignored);
        }
        if !self
            .crypto
            .cert_selected_by_epd(rhello.certificate, &opening.epd)
        {
            return self.drop_counted(DropReason::BadKeying);
        }
        // Step 1: a session to this identity already exists.
        if let Some(existing) = self.existing_session_for_cert(rhello.certificate) {
            return self.fail_opening(handle, OpenFailure::Duplicate(existing));
        }
        if self.config.offload_keying {
            if opening.keying_started {
                return self.drop_counted(DropReason::Ignored);
            }
            let pending = Pending::InitiatorStart {
                handle,
                from,
                cookie: rhello.cookie.to_vec(),
                far_cert: rhello.certificate.to_vec(),
            };
            let work = Work::InitiatorStart {
                far_cert: rhello.certificate.to_vec(),
            };
            if self.queue_keying(work, pending) {
                if let Some(o) = self.openings.get_mut(&handle) {
                    o.keying_started = true;
                }
            }
            return;
        }
        let crypto = self.crypto.clone();
        let result = crypto.initiator_keying(rhello.certificate, &mut self.rng);
        self.finish_rhello(now, handle, from, rhello.cookie, rhello.certificate, result);
    }

    /// Second half of RHello processing: with the SKIC computed, move to
    /// S_KEYING_SENT and send the IIKeying (§3.5.1.1.1 step 2).
    fn finish_rhello(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        from: SocketAddr,
        cookie: &[u8],
        far_cert: &[u8],
        result: Result<crate::crypto::InitiatorKeying, crate::crypto::CryptoError>,
    ) {
        let Some(opening) = self.openings.get(&handle) else {
            return;
        };
        if !matches!(opening.state, OpeningState::IHelloSent) {
            return self.drop_counted(DropReason::Ignored);
        }
        // Step 1 again: a session to this identity may have opened meanwhile.
        if let Some(existing) = self.existing_session_for_cert(far_cert) {
            return self.fail_opening(handle, OpenFailure::Duplicate(existing));
        }
        // Or one may still be keying as the responder: in order, it would
        // have opened before this RHello came, so wait for it.
        if self.responder_keying_pending(far_cert) {
            if let Some(opening) = self.openings.get_mut(&handle) {
                opening.keying_started = true;
                opening.parked = Some(Box::new(ParkedRHello {
                    from,
                    cookie: cookie.to_vec(),
                    far_cert: far_cert.to_vec(),
                    result,
                }));
            }
            return;
        }
        let keying = match result {
            Ok(keying) => keying,
            Err(_) => {
                self.drop_counted(DropReason::BadKeying);
                return self.fail_opening(handle, OpenFailure::KeyingFailed);
            }
        };
        let rx_session_id = self.new_session_id();
        let skic = keying.skic.clone();
        let iikeying_chunk = self.build_iikeying(rx_session_id, cookie, &skic);
        let state = KeyingSent {
            dest: from,
            rx_session_id,
            far_cert: far_cert.to_vec(),
            cookie: cookie.to_vec(),
            cookie_changed: false,
            keying: Some(keying),
            skic,
            iikeying_chunk: iikeying_chunk.clone(),
            next_send: now + INITIAL_RETRY,
            interval: next_retry(INITIAL_RETRY),
        };
        if let Some(opening) = self.openings.get_mut(&handle) {
            opening.state = OpeningState::KeyingSent(Box::new(state));
        }
        self.opening_by_rx_id.insert(rx_session_id, handle);
        self.send_startup_encoded(now, from, 0, &iikeying_chunk);
    }

    /// An open session (or one keying) whose far certificate has the same
    /// canonical EPD as `cert` (§3.5.1.1.1 step 1).
    fn existing_session_for_cert(&self, cert: &[u8]) -> Option<SessionHandle> {
        let canonical = self.crypto.canonical_epd_of_cert(cert)?;
        let open = self
            .sessions
            .values()
            .find(|s| {
                s.state == SessionState::Open && s.far_canonical_epd.as_deref() == Some(&canonical)
            })
            .map(|s| s.handle);
        open.or_else(|| {
            self.openings
                .values()
                .find(|o| match &o.state {
                    OpeningState::KeyingSent(k) => {
                        self.crypto.canonical_epd_of_cert(&k.far_cert).as_deref()
                            == Some(&canonical)
                    }
                    OpeningState::IHelloSent => false,
                })
                .map(|o| o.handle)
        })
    }

    /// §3.5.1.1.2 step 2, against the S_OPEN session at the IIKeying's
    /// address, if any: a retransmission is answered and anything that may
    /// not replace the session ignored (`Break`); otherwise the IIKeying
    /// goes on, with the session it overrides (`Continue`).
    fn settle_against_open(
        &mut self,
        now: Instant,
        iik: &PendingIIKeying,
    ) -> ControlFlow<(), Option<u32>> {
        let Some(id) = self.open_session_at(iik.from) else {
            return ControlFlow::Continue(None);
        };
        match self.against_open(id, iik) {
            AgainstOpen::Retransmission(r) => {
                let isid = r.initiator_session_id;
                self.send_startup_encoded(now, iik.from, isid, &r.rikeying_chunk);
                ControlFlow::Break(())
            }
            AgainstOpen::Ignore => {
                self.drop_counted(DropReason::Ignored);
                ControlFlow::Break(())
            }
            AgainstOpen::Override => ControlFlow::Continue(Some(id)),
        }
    }

    /// What an IIKeying from the address of S_OPEN session `id` is
    /// (§3.5.1.1.2 step 2).
    fn against_open(&self, id: u32, iik: &PendingIIKeying) -> AgainstOpen {
        let session = &self.sessions[&id];
        if session.role == Role::Responder && session.far_cert == iik.certificate {
            if let Some(r) = session.responder_replay.as_ref().filter(|r| {
                r.initiator_session_id == iik.initiator_session_id && r.skic == iik.skic
            }) {
                return AgainstOpen::Retransmission(r.clone());
            }
        }
        if !self.crypto.is_override(&session.far_cert, &iik.certificate) {
            return AgainstOpen::Ignore;
        }
        // A remnant of glare (§3.5.1.3).  We opened this session as the
        // Initiator, so the far end answered our IIKeying, which it does
        // only once it has given up an opening of its own; that opening's
        // IIKeying, sent before the answer, can still come after it.
        // Overriding with it would leave neither end a session.  Its cookie
        // tells: we made it before the session opened (or in the same
        // 10 ms: the time is rounded down).  A far end that started again
        // since has a cookie made since.
        let remnant = session.role == Role::Initiator
            && iik.cookie_issued.is_some_and(|t| t <= session.opened_at);
        if remnant {
            AgainstOpen::Ignore
        } else {
            AgainstOpen::Override
        }
    }

    /// Whether a responder keying (offload mode) runs for an IIKeying
    /// whose certificate has the same canonical EPD as `cert`.
    fn responder_keying_pending(&self, cert: &[u8]) -> bool {
        if self.pending_responders.is_empty() {
            return false;
        }
        let Some(canonical) = self.crypto.canonical_epd_of_cert(cert) else {
            return false;
        };
        self.pending_keying.values().any(|p| match p {
            Pending::Responder(p) => {
                self.crypto.canonical_epd_of_cert(&p.certificate).as_deref() == Some(&canonical)
            }
            _ => false,
        })
    }

    /// A responder keying for `cert`'s identity ended (opened or not):
    /// the RHellos parked behind it carry on (§3.5.1.1.1 step 1 decides).
    fn resume_parked(&mut self, now: Instant, cert: &[u8]) {
        let Some(canonical) = self.crypto.canonical_epd_of_cert(cert) else {
            return;
        };
        let waiting: Vec<SessionHandle> = self
            .openings
            .values()
            .filter(|o| {
                o.parked.as_ref().is_some_and(|p| {
                    self.crypto.canonical_epd_of_cert(&p.far_cert).as_deref() == Some(&canonical)
                })
            })
            .map(|o| o.handle)
            .collect();
        for handle in waiting {
            let Some(opening) = self.openings.get_mut(&handle) else {
                continue;
            };
            let Some(parked) = opening.parked.take() else {
                continue;
            };
            opening.keying_started = false;
            let ParkedRHello {
                from,
                cookie,
                far_cert,
                result,
            } = *parked;
            self.finish_rhello(now, handle, from, &cookie, &far_cert, result);
        }
    }

    fn build_iikeying(&self, rx_session_id: u32, cookie: &[u8], skic: &[u8]) -> Vec<u8> {
        let mut chunk = IIKeying {
            initiator_session_id: rx_session_id,
            cookie_echo: cookie,
            certificate: self.crypto.certificate(),
            skic,
            signature: &[],
        };
        let mut signed = Vec::new();
        chunk.write_signed_parameters(&mut signed);
        let signature = self.crypto.sign(&signed);
        chunk.signature = &signature;
        let mut encoded = Vec::new();
        let _ = Chunk::IIKeying(chunk).encode(&mut encoded);
        encoded
    }

    /// Cookie Change (§3.5.1.2): adopt the new cookie once and resend.
    fn on_cookie_change(&mut self, now: Instant, handle: SessionHandle, change: CookieChange<'_>) {
        let Some(opening) = self.openings.get(&handle) else {
            return;
        };
        let OpeningState::KeyingSent(keying) = &opening.state else {
            return self.drop_counted(DropReason::Ignored);
        };
        if keying.cookie_changed || keying.cookie != change.old_cookie {
            return self.drop_counted(DropReason::Ignored);
        }
        let (rx, skic, dest) = (keying.rx_session_id, keying.skic.clone(), keying.dest);
        let chunk = self.build_iikeying(rx, change.new_cookie, &skic);
        if let Some(OpeningState::KeyingSent(keying)) =
            self.openings.get_mut(&handle).map(|o| &mut o.state)
        {
            keying.cookie = change.new_cookie.to_vec();
            keying.cookie_changed = true;
            keying.iikeying_chunk = chunk.clone();
            keying.next_send = now + INITIAL_RETRY;
            keying.interval = next_retry(INITIAL_RETRY);
        }
        self.send_startup_encoded(now, dest, 0, &chunk);
    }

    /// IIKeying (§3.5.1.1.2): check the cookie, the certificate and the
    /// signature, resolve glare and retransmissions, then open.
    fn on_iikeying(&mut self, now: Instant, from: SocketAddr, iik: IIKeying<'_>, signed: &[u8]) {
        match self.cookies.check(now, from, iik.cookie_echo) {
            CookieCheck::Valid => {}
            CookieCheck::OtherAddress => {
                let new_cookie = self.cookies.make(now, from);
                let chunk = Chunk::CookieChange(CookieChange {
                    old_cookie: iik.cookie_echo,
                    new_cookie: &new_cookie,
                });
                return self.send_startup(now, from, iik.initiator_session_id, &chunk);
            }
            CookieCheck::Invalid => return self.drop_counted(DropReason::BadCookie),
        }
        if !self.crypto.verify(iik.certificate, signed, iik.signature) {
            return self.drop_counted(DropReason::BadKeying);
        }
        // Glare (§3.5.1.3): we are also opening towards this address (an
        // application may have more than one opening there).  If we
        // prevail, the far end gives way when our IIKeying reaches it.
        let glare: Vec<SessionHandle> = self
            .openings
            .values()
            .filter(|o| o.targets(from))
            .map(|o| o.handle)
            .collect();
        if !glare.is_empty() && self.crypto.near_wins_glare(iik.certificate) {
            return self.drop_counted(DropReason::Ignored);
        }
        let pending = PendingIIKeying {
            from,
            initiator_session_id: iik.initiator_session_id,
            certificate: iik.certificate.to_vec(),
            skic: iik.skic.to_vec(),
            glare,
            cookie_issued: self.cookies.issued(now, iik.cookie_echo),
        };
        if self.settle_against_open(now, &pending).is_break() {
            return;
        }
        if self.config.offload_keying {
            // The Diffie-Hellman work runs elsewhere (a worker pool); the
            // answer comes back through handle_keying_done.
            let key = (from, iik.initiator_session_id);
            if self.pending_responders.contains(&key) {
                return self.drop_counted(DropReason::Ignored);
            }
            let source = from.ip();
            // Fairness under pressure: once the queue is half full, a
            // source that already has its share waits (its initiators
            // retransmit), so one flooding source cannot take every slot.
            // Below that, bursts from one address (a NAT) go through.
            let busy = self.pending_by_source.get(&source).copied().unwrap_or(0);
            let pressed = self.pending_keying.len() >= self.config.max_pending_keying / 2;
            if pressed && busy >= self.config.max_pending_keying_per_source {
                return self.drop_counted(DropReason::SourceBusy);
            }
            let work = Work::Responder {
                certificate: pending.certificate.clone(),
                skic: pending.skic.clone(),
            };
            if self.queue_keying(work, Pending::Responder(pending)) {
                *self.pending_by_source.entry(source).or_insert(0) += 1;
                self.pending_responders.insert(key);
            }
            return;
        }
        // The SKIC must be acceptable before anything existing is touched
        // (§3.5.1.1.2): a forged IIKeying must not cost us a session.
        let crypto = self.crypto.clone();
        let result = crypto.responder_keying(iik.certificate, iik.skic, &mut self.rng);
        self.finish_iikeying(now, pending, result);
    }

    /// The next Diffie-Hellman job to run off the I/O thread, when
    /// [`EndpointConfig::offload_keying`](super::EndpointConfig::offload_keying)
    /// is on.  Run it with [`KeyingJob::run`] anywhere and hand the result
    /// to [`Endpoint::handle_keying_done`].
    pub fn poll_keying_job(&mut self) -> Option<KeyingJob> {
        self.keying_jobs.pop_front()
    }

    /// Queues keying work for a worker, or drops it (QueueFull) when too
    /// much is outstanding; initiators retransmit.
    fn queue_keying(&mut self, work: Work, pending: Pending) -> bool {
        if self.pending_keying.len() >= self.config.max_pending_keying {
            self.drop_counted(DropReason::QueueFull);
            return false;
        }
        let id = self.next_keying_job;
        self.next_keying_job += 1;
        self.keying_jobs.push_back(KeyingJob {
            id,
            crypto: self.crypto.clone(),
            work,
            seed: self.rng.next_u64(),
        });
        self.pending_keying.insert(id, pending);
        true
    }

    /// A keying job finished: carry on with the handshake step it was for.
    pub fn handle_keying_done(&mut self, now: Instant, done: KeyingDone) {
        let Some(pending) = self.pending_keying.remove(&done.id) else {
            return;
        };
        if let Pending::Responder(p) = &pending {
            self.pending_responders
                .remove(&(p.from, p.initiator_session_id));
            let source = p.from.ip();
            if let Some(n) = self.pending_by_source.get_mut(&source) {
                *n -= 1;
                if *n == 0 {
                    self.pending_by_source.remove(&source);
                }
            }
        }
        match (pending, done.outcome) {
            (Pending::Responder(p), Outcome::Responder(result)) => {
                let certificate = p.certificate.clone();
                self.finish_iikeying(now, p, result);
                self.resume_parked(now, &certificate);
            }
            (
                Pending::InitiatorStart {
                    handle,
                    from,
                    cookie,
                    far_cert,
                },
                Outcome::InitiatorStart(result),
            ) => {
                if let Some(o) = self.openings.get_mut(&handle) {
                    o.keying_started = false;
                }
                self.finish_rhello(now, handle, from, &cookie, &far_cert, result);
            }
            (
                Pending::InitiatorFinish {
                    handle,
                    responder_session_id,
                },
                Outcome::InitiatorFinish { state, result },
            ) => self.finish_rikeying(now, handle, responder_session_id, state, result),
            _ => {}
        }
    }

    /// Second half of IIKeying processing, once the SKIC has been keyed
    /// (§3.5.1.1.2 steps 1-3).  The checks that depend on other sessions
    /// run again: they may have changed while the keying ran elsewhere.
    fn finish_iikeying(
        &mut self,
        now: Instant,
        p: PendingIIKeying,
        result: Result<crate::crypto::ResponderKeyingResult, crate::crypto::CryptoError>,
    ) {
        let Ok(result) = result else {
            return self.drop_counted(DropReason::BadKeying);
        };
        let from = p.from;
        // Glare was resolved when the IIKeying came (the far end prevailed,
        // or it would have been dropped); only the openings it was in glare
        // with may still need aborting.
        let ControlFlow::Continue(existing) = self.settle_against_open(now, &p) else {
            return;
        };
        let handle = self.new_handle();
        for &opening in &p.glare {
            let overrides = match self.openings.get(&opening).map(|o| &o.state) {
                Some(OpeningState::KeyingSent(k)) => {
                    self.crypto.is_override(&k.far_cert, &p.certificate)
                }
                _ => false,
            };
            if overrides {
                // The far end prevailed: its session replaces ours.
                self.fail_opening(opening, OpenFailure::Duplicate(handle));
            }
        }
        if let Some(id) = existing {
            // Step 2.3: the old session is stale.
            if let Some(old) = self.sessions.get_mut(&id) {
                old.close_overridden(now, &mut self.events);
                self.schedule.touch(id, &mut old.slot);
            }
        }
        // Step 3: answer and open.
        let rx_session_id = self.new_session_id();
        let mut rikeying = RIKeying {
            responder_session_id: rx_session_id,
            skrc: &result.skrc,
            signature: &[],
        };
        let mut signed = Vec::new();
        rikeying.write_signed_portion(&mut signed);
        signed.extend_from_slice(&p.skic);
        let signature = self.crypto.sign(&signed);
        rikeying.signature = &signature;
        let mut rikeying_chunk = Vec::new();
        let _ = Chunk::RIKeying(rikeying).encode(&mut rikeying_chunk);
        self.send_startup_encoded(now, from, p.initiator_session_id, &rikeying_chunk);
        let replay = ResponderReplay {
            initiator_session_id: p.initiator_session_id,
            skic: p.skic,
            rikeying_chunk,
        };
        self.open_session(
            now,
            handle,
            Role::Responder,
            rx_session_id,
            p.initiator_session_id,
            from,
            p.certificate,
            result.keys,
            Some(replay),
        );
    }

    /// RIKeying (§3.5.1.1.1): verify, finish keying, open.
    fn on_rikeying(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        rik: RIKeying<'_>,
        portion: &[u8],
    ) {
        let Some(opening) = self.openings.get_mut(&handle) else {
            return;
        };
        let OpeningState::KeyingSent(keying) = &mut opening.state else {
            return self.drop_counted(DropReason::Ignored);
        };
        let mut signed = portion.to_vec();
        signed.extend_from_slice(&keying.skic);
        if !self.crypto.verify(&keying.far_cert, &signed, rik.signature) {
            return self.drop_counted(DropReason::BadKeying);
        }
        if self.config.offload_keying {
            // The state travels with the job and comes back either way.
            let Some(state) = keying.keying.take() else {
                return self.drop_counted(DropReason::Ignored);
            };
            let work = Work::InitiatorFinish {
                state,
                far_cert: keying.far_cert.clone(),
                skrc: rik.skrc.to_vec(),
            };
            let pending = Pending::InitiatorFinish {
                handle,
                responder_session_id: rik.responder_session_id,
            };
            if !self.queue_keying(work, pending) {
                // Not queued: the job (and the state in it) was not kept.
                // Fail rather than hang; this only happens under a flood.
                self.fail_opening(handle, OpenFailure::KeyingFailed);
            }
            return;
        }
        let Some(state) = keying.keying.take() else {
            return;
        };
        let far_cert = keying.far_cert.clone();
        let result = self.crypto.initiator_finish(&state, &far_cert, rik.skrc);
        self.finish_rikeying(now, handle, rik.responder_session_id, state, result);
    }

    /// Second half of RIKeying processing: open, or put the keying state
    /// back and ignore the RIKeying if its SKRC was bad (§3.5.1.1.1; the
    /// ISID travels under the public default key, so anyone could send
    /// one).
    fn finish_rikeying(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        responder_session_id: u32,
        state: crate::crypto::InitiatorKeying,
        result: Result<crate::crypto::SessionKeys, crate::crypto::CryptoError>,
    ) {
        let Some(OpeningState::KeyingSent(keying)) =
            self.openings.get_mut(&handle).map(|o| &mut o.state)
        else {
            return;
        };
        let keys = match result {
            Ok(keys) => keys,
            Err(_) => {
                keying.keying = Some(state);
                return self.drop_counted(DropReason::BadKeying);
            }
        };
        let far_cert = keying.far_cert.clone();
        let (dest, rx_session_id) = (keying.dest, keying.rx_session_id);
        if let Some(opening) = self.openings.remove(&handle) {
            self.opening_by_tag.remove(&opening.tag);
        }
        self.opening_by_rx_id.remove(&rx_session_id);
        self.open_session(
            now,
            handle,
            Role::Initiator,
            rx_session_id,
            responder_session_id,
            dest,
            far_cert,
            keys,
            None,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn open_session(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        role: Role,
        rx_session_id: u32,
        tx_session_id: u32,
        dest_addr: SocketAddr,
        far_cert: Vec<u8>,
        keys: SessionKeys,
        responder_replay: Option<ResponderReplay>,
    ) {
        let mut mobility_secret = [0u8; 16];
        self.rng.fill_bytes(&mut mobility_secret);
        let far_canonical_epd = self.crypto.canonical_epd_of_cert(&far_cert);
        let far_peer_id = keys.far_peer_id.or_else(|| self.crypto.peer_id(&far_cert));
        self.events.push_back(Event::SessionOpened {
            session: handle,
            role,
            far_address: dest_addr,
            far_peer_id,
            near_nonce: keys.near_nonce.clone(),
            far_nonce: keys.far_nonce.clone(),
        });
        let setup = SessionSetup {
            handle,
            role,
            rx_session_id,
            tx_session_id,
            dest_addr,
            far_cert,
            far_canonical_epd,
            far_peer_id,
            crypto: keys.crypto,
            near_nonce: keys.near_nonce,
            far_nonce: keys.far_nonce,
            epoch: self.epoch,
            mobility_secret,
            responder_replay,
        };
        let session = Session::new(setup, self.session_timers(), now);
        self.stats.sessions_opened += 1;
        self.session_by_handle.insert(handle, rx_session_id);
        self.sessions.insert(rx_session_id, Box::new(session));
        self.touch(rx_session_id);
    }
}

/// What an IIKeying is to an S_OPEN session with its address
/// (§3.5.1.1.2 step 2).
enum AgainstOpen {
    /// The IIKeying that opened it, again: answer with its RIKeying.
    Retransmission(ResponderReplay),
    /// Not a session that may replace it.
    Ignore,
    /// A new session that replaces it (step 2.3).
    Override,
}
