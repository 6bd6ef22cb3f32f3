//! Throughput of the simulator itself: 100,000 datagrams. Prints the wall
//! time; never asserts it (benchmarks are not tests).

use std::time::{Duration, Instant};

use rtmfp_core::sim::toy::{Echo, Pinger};
use rtmfp_core::sim::{self, Limits, LinkConfig, Sim, Stop};

#[test]
fn a_hundred_thousand_datagrams() {
    let mut sim = Sim::new(sim::seed_from_env_or(60));
    sim.set_default_link(LinkConfig::default().with_jitter(Duration::from_millis(5)));
    let echo = sim::addr("203.0.113.2:2000");
    sim.add_node(Echo::default(), &[echo]);
    let p = Pinger::new(echo, 50_000, Duration::from_micros(20)).with_size(200);
    let p = sim.add_node(p, &[sim::addr("203.0.113.1:1000")]);
    let wall = Instant::now();
    let r = sim.run_until_idle(Limits::default());
    let wall = wall.elapsed();
    assert_eq!(r.stop, Stop::Idle, "{r}");
    let st = sim.stats();
    assert_eq!(st.sent_datagrams, 100_000, "{st:?}; {sim}");
    assert_eq!(st.delivered_datagrams, 100_000, "{st:?}; {sim}");
    assert_eq!(sim.node::<Pinger>(p).replies, 50_000, "{sim}");
    eprintln!(
        "sim perf: {} datagrams sent, {} delivered, {} steps in {:?} wall ({:.0} datagrams/s)",
        st.sent_datagrams,
        st.delivered_datagrams,
        st.steps,
        wall,
        st.sent_datagrams as f64 / wall.as_secs_f64()
    );
}
