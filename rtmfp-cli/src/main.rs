//! `rtmfp`: an RTMFP (RFC 7016, RFC 7425 Flash profile) rendezvous
//! server, stream publisher and player, echo server, sender and benchmark
//! over `rtmfp-core`.
//!
//! Exit codes: 0 success, 1 run-time failure, 2 usage error.

mod bench;
mod check;
mod common;
mod crowd;
mod decrypt;
mod echo;
mod fanout;
mod flood;
mod options;
mod pcap;
mod peer;
mod play;
mod publish;
mod redirector;
mod send;
mod server;
mod swarm;

use clap::{Parser, Subcommand};
use rtmfp_core::crypto::flash::KeyLog;

#[derive(Parser, Debug)]
#[command(
    name = "rtmfp",
    version,
    about = "RTMFP (RFC 7016 / RFC 7425): rendezvous server and redirector, publisher, player, echo server, sender and benchmarks",
    after_help = "Exit codes: 0 success, 1 run-time failure, 2 usage error."
)]
struct Cli {
    /// Append each session's packet keys to FILE (as RTMFP_KEYLOGFILE
    /// does), so that a capture can be decrypted later; `rtmfp decrypt`
    /// reads it. Anyone with the file can read those sessions.
    #[arg(long, global = true, value_name = "FILE")]
    key_log: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Server(server::ServerArgs),
    Redirector(redirector::RedirectorArgs),
    Publish(publish::PublishArgs),
    Play(play::PlayArgs),
    Echo(echo::EchoArgs),
    Send(send::SendArgs),
    Bench(bench::BenchArgs),
    Check(check::CheckArgs),
    Decrypt(decrypt::DecryptArgs),
}

fn main() {
    common::default_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `rtmfp publish --option help` without the URI clap wants.
            if let Some(text) = option_help(std::env::args().skip(1)) {
                print!("{text}");
                return;
            }
            e.exit()
        }
    };
    let result = run(cli);
    if let Err(e) = result {
        eprintln!("rtmfp: error: {e}");
        std::process::exit(e.exit_code());
    }
}

/// `--option help` of a command whose other arguments do not parse
/// (a required URI left out): the help of its object's options.
fn option_help(args: impl Iterator<Item = String>) -> Option<String> {
    let args: Vec<String> = args.collect();
    let mut i = 0;
    // Global flags before the command: --key-log takes a value.
    while args.get(i).is_some_and(|a| a.starts_with('-')) {
        i += if args[i] == "--key-log" { 2 } else { 1 };
    }
    let maker = match args.get(i)?.as_str() {
        "server" => server::MAKER,
        "publish" => publish::MAKER,
        "play" => play::MAKER,
        "check" => check::MAKER,
        "echo" => echo::MAKER,
        "send" => send::MAKER,
        _ => return None,
    };
    let rest = &args[i + 1..];
    // `play`'s -o is --out.
    let short = maker.command != "play";
    let asked = rest.iter().enumerate().any(|(j, a)| {
        let next_is_help = rest.get(j + 1).is_some_and(|n| n == "help");
        a == "--option=help"
            || (a == "--option" && next_is_help)
            || (short && (a == "-ohelp" || a == "-o=help" || (a == "-o" && next_is_help)))
    });
    asked.then(|| options::help(maker))
}

fn run(cli: Cli) -> common::Result<()> {
    if let Command::Decrypt(a) = cli.command {
        return decrypt::run(a, cli.key_log);
    }
    if let Some(path) = &cli.key_log {
        let log = KeyLog::open(path)
            .map_err(|e| common::fail(format!("cannot open the key log {path:?}: {e}")))?;
        KeyLog::set_process_default(Some(log));
    }
    match cli.command {
        Command::Server(a) => server::run(a),
        Command::Redirector(a) => redirector::run(a),
        Command::Publish(a) => publish::run(a),
        Command::Play(a) => play::run(a),
        Command::Echo(a) => echo::run(a),
        Command::Send(a) => send::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Check(a) => check::run(a),
        Command::Decrypt(_) => unreachable!("handled above"),
    }
}
