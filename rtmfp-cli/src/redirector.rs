//! `rtmfp redirector`: the front door of a rendezvous cluster.  Answers
//! every client's IHello with a Redirect (RFC 7016 §3.5.1.1.1) to the
//! least loaded live node registered in Redis by `rtmfp server
//! --cluster`.

use crate::common::{fail, install_signal_handlers, parse_listen, stop_requested, Result};
use clap::Args;
use rtmfp_core::rendezvous::cluster::redirector::RedirectorHandle;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Run a cluster redirector: clients connecting to it are redirected to
/// the least loaded node of the cluster (nodes are `rtmfp server
/// --cluster URL` with the same URL).
#[derive(Args, Debug)]
#[command(after_help = "\
Output: `listening ADDR`, `nodes N` whenever the number of live nodes \
changes, and totals on SIGINT or SIGTERM.")]
pub struct RedirectorArgs {
    /// Local UDP address to listen on (repeatable).
    #[arg(long, short = 'l', value_name = "ADDR", value_parser = parse_listen,
          default_value = "0.0.0.0:1935")]
    pub listen: Vec<SocketAddr>,
    /// The cluster's Redis: redis://HOST:PORT[/DB].
    #[arg(long, value_name = "URL")]
    pub cluster: String,
}

pub fn run(args: RedirectorArgs) -> Result<()> {
    install_signal_handlers();
    let mut r = RedirectorHandle::start(&args.listen, &args.cluster, "rtmfp:")
        .map_err(|e| fail(format!("cannot start the redirector: {e}")))?;
    println!("rtmfp cluster redirector (RFC 7016 §3.5.1.1.1)");
    for a in r.local_addrs() {
        println!("listening {a}");
    }
    println!("cluster {}", args.cluster);
    let start = Instant::now();
    let mut last = None;
    while !stop_requested() {
        if let Ok(nodes) = r.nodes() {
            if last != Some(nodes.len()) {
                let list: Vec<String> = nodes
                    .iter()
                    .map(|(n, load, a)| {
                        let a: Vec<String> = a.iter().map(|x| x.to_string()).collect();
                        format!("{n} (load {load}) at [{}]", a.join(", "))
                    })
                    .collect();
                println!("nodes {}: {}", nodes.len(), list.join("; "));
                last = Some(nodes.len());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let stats = r.stats().ok().unwrap_or_default();
    r.close();
    println!(
        "totals {:.1} s, {} redirected, {} without a live node, {} peer-ID IHellos ignored",
        start.elapsed().as_secs_f64(),
        stats.redirected,
        stats.no_node,
        stats.ignored
    );
    Ok(())
}
