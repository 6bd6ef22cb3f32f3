//! `rtmfp`: an RTMFP (RFC 7016, RFC 7425 Flash profile) echo server,
//! sender and benchmark over `rtmfp-core`'s runtime.
//!
//! Exit codes: 0 success, 1 run-time failure, 2 usage error.

mod bench;
mod common;
mod echo;
mod send;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "rtmfp",
    version,
    about = "RTMFP (RFC 7016 / RFC 7425) echo server, sender and benchmarks",
    after_help = "Exit codes: 0 success, 1 run-time failure, 2 usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Echo(echo::EchoArgs),
    Send(send::SendArgs),
    Bench(bench::BenchArgs),
}

fn main() {
    common::default_sigpipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Echo(a) => echo::run(a),
        Command::Send(a) => send::run(a),
        Command::Bench(a) => bench::run(a),
    };
    if let Err(e) = result {
        eprintln!("rtmfp: error: {e}");
        std::process::exit(e.exit_code());
    }
}
