//! `rtmfp`: an RTMFP (RFC 7016, RFC 7425 Flash profile) rendezvous
//! server, stream publisher and player, echo server, sender and benchmark
//! over `rtmfp-core`.
//!
//! Exit codes: 0 success, 1 run-time failure, 2 usage error.

mod bench;
mod common;
mod echo;
mod peer;
mod play;
mod publish;
mod send;
mod server;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "rtmfp",
    version,
    about = "RTMFP (RFC 7016 / RFC 7425): rendezvous server, publisher, player, echo server, sender and benchmarks",
    after_help = "Exit codes: 0 success, 1 run-time failure, 2 usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Server(server::ServerArgs),
    Publish(publish::PublishArgs),
    Play(play::PlayArgs),
    Echo(echo::EchoArgs),
    Send(send::SendArgs),
    Bench(bench::BenchArgs),
}

fn main() {
    common::default_sigpipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Server(a) => server::run(a),
        Command::Publish(a) => publish::run(a),
        Command::Play(a) => play::run(a),
        Command::Echo(a) => echo::run(a),
        Command::Send(a) => send::run(a),
        Command::Bench(a) => bench::run(a),
    };
    if let Err(e) = result {
        eprintln!("rtmfp: error: {e}");
        std::process::exit(e.exit_code());
    }
}
