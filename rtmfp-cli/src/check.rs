//! `rtmfp check`: does UDP reach the server, at what address does it see
//! us, and what does our NAT do (mapping, filtering)?  The work is
//! `rtmfp_core::flash::check::check`; this prints its report (whose
//! words are the core's too, shared with C, Python and Node).  See
//! `rtmfp_core::check` and docs/nat.md.

use crate::common::{fail, parse_duration, parse_listen, CliError, Result, SecurityArgs};
use crate::options::{self, Flags, Maker, OptionArgs};
use clap::Args;
use rtmfp_core::flash::check::{check, CheckOptions};
use rtmfp_core::flash::check_uri;
use rtmfp_core::host::options::{Object, OptionValue};
use std::net::SocketAddr;
use std::time::Duration;

/// Tell in a few seconds whether UDP reaches a server, what address it
/// sees, and what this host's NAT does
#[derive(Args, Debug)]
#[command(after_help = "\
It connects to the server (the round trip and the handshake time say that \
UDP gets through), asks it with the checkInfo command at what address it \
sees us and where its check service listens (`rtmfp server --check ADDR`), \
then runs the RFC 5780 tests against that service from two more UDP \
sockets: mapping (is our public port the same toward every destination?) \
on one, and filtering (does the NAT let in datagrams from addresses we \
have not sent to? does one it refused leave state behind?) on the other.  --stun ADDR uses another RFC 5780 STUN server instead.

Output, one line each: `server`, `udp`, `public`, `check`, `mapping`, \
`filtering`, `unsolicited` (only when the NAT keeps state for datagrams it \
refused), `verdict`.  Exit status 1 if the server does not answer.")]
pub struct CheckArgs {
    /// rtmfp://HOST[:PORT][/APP[/KEY]] (port 1935 by default)
    #[arg(value_name = "URI")]
    pub uri: String,
    /// Run the NAT tests against this RFC 5780 STUN server (its primary
    /// address) instead of the server's check service.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub stun: Option<SocketAddr>,
    /// Local UDP address to bind (port 0: any free port).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen, default_value = "0.0.0.0:0")]
    pub bind: SocketAddr,
    /// How long to wait for the server, in seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_duration, default_value = "5")]
    pub timeout: Duration,
    #[command(flatten)]
    pub security: SecurityArgs,
    /// Check through this TURN relay: the connect then tells whether the
    /// relay works (its credentials, its reachability), and `public` is
    /// the relayed address.
    #[command(flatten)]
    pub turn: crate::common::TurnArgs,
    #[command(flatten)]
    pub options: OptionArgs,
}

/// `rtmfp check` makes a NetConnection.
pub const MAKER: Maker = Maker {
    object: Object::NetConnection,
    command: "check",
    without: &[],
};

pub fn run(args: CheckArgs) -> Result<()> {
    if MAKER.help_asked(&args.options.option) {
        return Ok(());
    }
    crate::common::install_signal_handlers();
    let uri = check_uri(&args.uri).map_err(CliError::Usage)?;
    // The flags that have a row (`--bind`, `--turn`), then every
    // `--option`; `--timeout` is the check's own wait.
    let mut flags = Flags::new();
    flags.set("bind", "--bind", OptionValue::Addresses(vec![args.bind]))?;
    args.turn.set(&mut flags)?;
    let opts = MAKER.options(&args.options.option, flags)?;
    let mut config = opts.netconnection_config().map_err(options::failure)?;
    config.flash = args.security.apply(config.flash);
    let options = CheckOptions {
        config,
        timeout: args.timeout,
        stun: args.stun,
    };
    let report = check(&uri, options);
    print!("{}", report.text(&uri));
    if report.reached() {
        Ok(())
    } else {
        Err(fail("the server did not answer"))
    }
}
