//! A layer on the runtime's I/O thread: an echo service that accepts every
//! flow and answers each message on an associated return flow, without
//! any application thread involved.

use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{Endpoint, Event, Layer};
use rtmfp_core::flow::{DeliveryOrder, FlowId, MessageOptions, Priority};
use rtmfp_core::runtime::{Runtime, RuntimeConfig};
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Echo {
    /// (session, receiving flow) -> return flow.
    returns: HashMap<(u64, FlowId), FlowId>,
    echoed: usize,
}

impl Layer for Echo {
    fn on_event(&mut self, ep: &mut Endpoint, now: Instant, event: Event) -> Option<Event> {
        match event {
            Event::FlowOpened { session, flow, .. } => {
                ep.accept_flow(now, session, flow, DeliveryOrder::Sequence)
                    .ok()?;
                let back = ep
                    .open_flow(session, b"echo", Priority::Routine, Some(flow))
                    .ok()?;
                self.returns.insert((session.0, flow), back);
                None
            }
            Event::Message {
                session,
                flow,
                data,
                ..
            } => {
                let back = *self.returns.get(&(session.0, flow))?;
                ep.send(now, session, back, &data, MessageOptions::default())
                    .ok()?;
                self.echoed += 1;
                None
            }
            other => Some(other),
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[test]
fn an_echo_layer_answers_on_the_io_thread() {
    let server_crypto =
        FlashProfile::new(FlashConfig::server(), &mut StdRng::seed_from_u64(1)).unwrap();
    let server_id = server_crypto.near_id();
    let server = Runtime::start_with_layer(
        RuntimeConfig::new(
            vec!["127.0.0.1:0".parse().unwrap()],
            Arc::new(server_crypto),
        ),
        Box::new(Echo::default()),
    )
    .unwrap();
    let client_crypto =
        FlashProfile::new(FlashConfig::client(), &mut StdRng::seed_from_u64(2)).unwrap();
    let client = Runtime::start(RuntimeConfig::new(
        vec!["127.0.0.1:0".parse().unwrap()],
        Arc::new(client_crypto),
    ))
    .unwrap();
    let session = client
        .connect(epd_for_fingerprint(&server_id), &server.local_addrs())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let wait = |pred: &mut dyn FnMut(&Event) -> bool| loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = client
            .next_event_timeout(left)
            .expect("event before the deadline");
        if pred(&e) {
            return e;
        }
    };
    wait(&mut |e| matches!(e, Event::SessionOpened { .. }));
    let flow = client
        .open_flow(session, b"ask", Priority::Routine, None)
        .unwrap();
    for i in 0..20u8 {
        client
            .send(
                session,
                flow,
                &vec![i; 1000 * usize::from(i) + 1],
                MessageOptions::default(),
            )
            .unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 20 {
        match wait(&mut |e| matches!(e, Event::FlowOpened { .. } | Event::Message { .. })) {
            Event::FlowOpened {
                flow: back,
                association,
                ..
            } => {
                assert_eq!(association, Some(flow), "the echo flow answers ours");
                client
                    .accept_flow(session, back, DeliveryOrder::Sequence)
                    .unwrap();
            }
            Event::Message { data, .. } => got.push(data),
            _ => unreachable!(),
        }
    }
    for (i, data) in got.iter().enumerate() {
        assert_eq!(*data, vec![i as u8; 1000 * i + 1]);
    }
    let echoed = server
        .call_layer(|echo: &mut Echo, _, _| echo.echoed)
        .unwrap();
    assert_eq!(echoed, 20);
    // The wrong layer type is a clear error, not a crash.
    assert!(client.call_layer(|_: &mut Echo, _, _| ()).is_err());
}
