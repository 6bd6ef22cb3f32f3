//! `--option NAME=VALUE`: the CLI as an adapter of core's table of host
//! options (`rtmfp_core::host::options`).  The CLI only turns the text
//! after `=` into an [`OptionValue`] as the row's [`Kind`] wants it; core
//! checks the value, words a refusal and lands it in the configs.
//!
//! Every command that makes an endpoint, a NetConnection or a server
//! takes it, for the [`Object`] it makes (a [`Maker`]): `server` a
//! server, `publish`, `play` and `check` a NetConnection, `echo` and
//! `send` an endpoint.  A command's flags that have a row are set first
//! ([`Flags`]), so an `--option` of the same row overrides them, and the
//! configs come from core's builders.
//!
//! How values are written:
//! - durations: a number and a unit, `30s`, `500ms`, `1.5s`, `250us`
//!   (`0` alone is 0);
//! - counts: an integer;
//! - flags: `true` or `false`;
//! - words, texts, paths, a TURN URI: as they are (`none` turns a TURN
//!   relay or a key log off);
//! - lists (bind addresses, DH groups, developer keys): comma-separated;
//! - `keepalive`: two durations, `15s,10s`, or `none`.

use crate::common::{CliError, Result};
use clap::Args;
use rtmfp_core::host::options::{
    expects, row, rows_of, type_error, Kind, Object, OptionError, OptionValue, Options, Row,
};
use rtmfp_core::host::{ErrorKind, Failure};

/// Rows the CLI does not offer: a server's asks and a NetConnection's
/// `peer_connect_mode=ask` need an application to answer them, and the
/// CLI answers nothing (`rtmfp publish --reject-after` is its policy).
const NOT_OFFERED: &[&str] = &[
    "ask_connect",
    "ask_publish",
    "ask_play",
    "hook_timeout",
    "peer_connect_mode",
];

/// `--option NAME=VALUE` (`-o`), as every command but `play` takes it
/// (`play`'s `-o` is `--out`, so it has only the long form).
#[derive(Args, Debug, Clone, Default)]
pub struct OptionArgs {
    /// Set an option of core's table: NAME=VALUE (repeatable), e.g.
    /// idle_timeout=30s, hmac_policy=required, max_datagram_size=1400.
    /// `--option help` lists the names this command takes, with their
    /// types, ranges and defaults.
    #[arg(long = "option", short = 'o', value_name = "NAME=VALUE")]
    pub option: Vec<String>,
}

/// A command and the object it makes: what its `--option`s are checked
/// against and how refusals and `--option help` name it.
#[derive(Debug, Clone, Copy)]
pub struct Maker {
    /// The object the command makes.
    pub object: Object,
    /// The command, as in `rtmfp COMMAND`.
    pub command: &'static str,
    /// Rows of the object that this command cannot apply (beyond the
    /// asks no command offers).
    pub without: &'static [&'static str],
}

impl Maker {
    /// Prints `--option help` if one of `specs` asks for it; then the
    /// command does nothing else.
    pub fn help_asked(self, specs: &[String]) -> bool {
        let asked = specs.iter().any(|o| o == "help");
        if asked {
            print!("{}", help(self));
        }
        asked
    }

    /// The options: what `flags` set (the command's flags that have a
    /// row, and its own defaults), then every `--option` in `specs`, each
    /// checked by core (a later one of the same row wins).
    pub fn options(self, specs: &[String], flags: Flags) -> Result<Options> {
        let mut o = flags.0;
        for spec in specs {
            set(&mut o, self, spec)?;
        }
        Ok(o)
    }
}

/// A command's flags that have a row of core's table, set before its
/// `--option`s.
#[derive(Debug, Default)]
pub struct Flags(Options);

impl Flags {
    /// No flag set.
    pub fn new() -> Flags {
        Flags::default()
    }

    /// Sets row `name` from flag `shown` (`--listen`), checked by core; a
    /// refusal names the flag.
    pub fn set(&mut self, name: &str, shown: &str, value: OptionValue) -> Result<()> {
        self.0.set_as(name, shown, value).map_err(refused)
    }

    /// Sets a duration row from a flag given as a [`std::time::Duration`].
    pub fn duration(&mut self, name: &str, shown: &str, d: std::time::Duration) -> Result<()> {
        self.set(name, shown, OptionValue::Seconds(d.as_secs_f64()))
    }
}

impl Maker {
    /// The rows `rtmfp <command>` takes through `--option`.
    pub fn offered(self) -> impl Iterator<Item = &'static Row> {
        rows_of(self.object)
            .filter(move |r| !NOT_OFFERED.contains(&r.name) && !self.without.contains(&r.name))
    }
}

/// A refusal of core's as a CLI error: a bad value is a usage error (exit
/// 2), a file that cannot be read a runtime one (exit 1).
pub fn refused(e: OptionError) -> CliError {
    match e {
        OptionError::Invalid(f) => failure(f),
        OptionError::File { failure: f, .. } => CliError::Runtime(f.message),
    }
}

/// A failure of core's builders as a CLI error.
pub fn failure(f: Failure) -> CliError {
    match f.kind {
        ErrorKind::InvalidArgument => CliError::Usage(f.message),
        _ => CliError::Runtime(f.message),
    }
}

/// Sets `--option NAME=VALUE` (`spec`) on `options` for `maker`'s
/// command.  `NAME` may be written with `-` for `_`; refusals name it as
/// written.
pub fn set(options: &mut Options, maker: Maker, spec: &str) -> Result<()> {
    let command = maker.command;
    let Some((shown, text)) = spec.split_once('=') else {
        return Err(CliError::Usage(format!(
            "--option {spec}: write NAME=VALUE (--option help lists the names)"
        )));
    };
    let name = shown.trim().replace('-', "_");
    let row = row(&name)
        .filter(|r| maker.offered().any(|o| o.name == r.name))
        .ok_or_else(|| {
            let names: Vec<&str> = maker.offered().map(|r| r.name).collect();
            let why = if NOT_OFFERED.contains(&name.as_str()) {
                " (asks need an application to answer them)"
            } else if maker.without.contains(&name.as_str()) {
                " (it has nothing to apply it to)"
            } else if row(&name).is_some() {
                ""
            } else {
                " (no such option)"
            };
            CliError::Usage(format!(
                "--option {shown}: `rtmfp {command}` does not take this option{why}; \
                 it takes {} (--option help describes them)",
                names.join(", ")
            ))
        })?;
    let value = value(row.kind, shown, text)?;
    options.set_as(row.name, shown, value).map_err(refused)
}

/// `text` as the value a row of `kind` wants.
fn value(kind: Kind, shown: &str, text: &str) -> Result<OptionValue> {
    let word = |t: &str| OptionValue::Text(t.to_owned());
    let list = |f: &dyn Fn(&str) -> OptionValue| {
        OptionValue::List(text.split(',').map(|t| f(t.trim())).collect())
    };
    Ok(match kind {
        Kind::Duration { .. } => duration(kind, shown, text)?,
        Kind::Count { .. } => text.parse().map_or_else(|_| word(text), OptionValue::Int),
        Kind::Flag => match text {
            "true" => OptionValue::Bool(true),
            "false" => OptionValue::Bool(false),
            _ => word(text),
        },
        Kind::TurnUri | Kind::KeyLog if text == "none" => OptionValue::None,
        Kind::Keepalive if text == "none" => OptionValue::None,
        Kind::Keepalive => {
            let mut periods = Vec::new();
            for t in text.split(',') {
                periods.push(duration(kind, shown, t.trim())?);
            }
            OptionValue::List(periods)
        }
        Kind::Addresses | Kind::Keys => list(&word),
        Kind::Groups => list(&|t| t.parse().map_or_else(|_| word(t), OptionValue::Int)),
        Kind::Text | Kind::Word(_) | Kind::TurnUri | Kind::KeyLog | Kind::KeysFile => word(text),
    })
}

/// A duration: a number and a unit (`s`, `ms`, `us`), or `0`.
fn duration(kind: Kind, shown: &str, text: &str) -> Result<OptionValue> {
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let number: Option<f64> = number.trim().parse().ok();
    match (number, unit) {
        (Some(n), "s") => Ok(OptionValue::Seconds(n)),
        (Some(n), "ms") => Ok(OptionValue::Millis(n)),
        (Some(n), "us") => Ok(OptionValue::Millis(n / 1000.0)),
        (Some(0.0), "") => Ok(OptionValue::Seconds(0.0)),
        _ => Err(CliError::Usage(format!(
            "{} (a number and a unit: 30s, 500ms, 1.5s, 250us)",
            type_error(kind, shown, &OptionValue::Text(text.to_owned()).describe())
        ))),
    }
}

/// `--option help`: the rows `rtmfp <command>` takes, from the table.
pub fn help(maker: Maker) -> String {
    let mut out = format!(
        "Options of `rtmfp {}` (--option NAME=VALUE, repeatable; \
         durations 30s, 500ms, 1.5s; lists comma-separated):\n",
        maker.command
    );
    for r in maker.offered() {
        let what = match r.kind {
            Kind::Duration { .. } => "a duration (30s, 500ms, 1.5s)".to_owned(),
            Kind::Keepalive => "two durations (15s,10s) or none".to_owned(),
            Kind::TurnUri => "a TURN URI, turn://USER:PASS@HOST[:PORT], or none".to_owned(),
            Kind::KeyLog => "a path, or none".to_owned(),
            Kind::Keys => "comma-separated keys".to_owned(),
            Kind::Addresses => "comma-separated IP:PORT addresses".to_owned(),
            Kind::Groups => "comma-separated Diffie-Hellman groups (2, 5, 14, 16)".to_owned(),
            k => expects(k),
        };
        out.push_str(&format!(
            "\n  {}\n      {what}; default {}\n      {}\n",
            r.name, r.default, r.doc
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn values_are_written_as_documented() {
        let d = Kind::Duration {
            zero: rtmfp_core::host::options::Zero::Refused,
        };
        assert_eq!(value(d, "x", "30s").unwrap(), OptionValue::Seconds(30.0));
        assert_eq!(value(d, "x", "1.5s").unwrap(), OptionValue::Seconds(1.5));
        assert_eq!(value(d, "x", "500ms").unwrap(), OptionValue::Millis(500.0));
        assert_eq!(value(d, "x", "250us").unwrap(), OptionValue::Millis(0.25));
        assert_eq!(value(d, "x", "0").unwrap(), OptionValue::Seconds(0.0));
        for bad in ["30", "30m", "s", ""] {
            assert!(value(d, "x", bad).is_err(), "{bad}");
        }
        let count = Kind::Count { min: 1, max: 9 };
        assert_eq!(value(count, "x", "7").unwrap(), OptionValue::Int(7));
        assert_eq!(
            value(Kind::Flag, "x", "true").unwrap(),
            OptionValue::Bool(true)
        );
        assert_eq!(
            value(Kind::Groups, "x", "2, 14").unwrap(),
            OptionValue::List(vec![OptionValue::Int(2), OptionValue::Int(14)])
        );
        assert_eq!(
            value(Kind::Keepalive, "x", "none").unwrap(),
            OptionValue::None
        );
        assert_eq!(
            value(Kind::Keepalive, "x", "15s,500ms").unwrap(),
            OptionValue::List(vec![OptionValue::Seconds(15.0), OptionValue::Millis(500.0)])
        );
    }

    const SERVER: Maker = Maker {
        object: Object::Server,
        command: "server",
        without: &[],
    };

    #[test]
    fn names_are_checked_against_the_rows_a_server_takes() {
        let mut o = Options::new();
        set(&mut o, SERVER, "idle-timeout=30s").unwrap();
        set(&mut o, SERVER, "max_streams_per_client=3").unwrap();
        assert_eq!(o.server_config().max_streams_per_client, 3);
        assert_eq!(
            o.configs(Object::Server).endpoint.idle_timeout,
            std::time::Duration::from_secs(30)
        );
        for bad in ["direct_timeout=1s", "ask_connect=true", "nope=1", "nope"] {
            let e = set(&mut o, SERVER, bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
        let e = set(&mut o, SERVER, "max_datagram_size=10").unwrap_err();
        assert!(e
            .to_string()
            .contains("max_datagram_size must be from 576 to 65507"));
        assert!(help(SERVER).contains("max_names_per_client"));
    }

    #[test]
    fn each_object_takes_its_own_rows_and_flags_come_first() {
        let publish = Maker {
            object: Object::NetConnection,
            command: "publish",
            without: &[],
        };
        let mut flags = Flags::new();
        flags
            .duration("direct_timeout", "--direct-timeout", Duration::from_secs(5))
            .unwrap();
        let specs = ["direct-timeout=0".to_owned(), "open_timeout=2s".to_owned()];
        let o = publish.options(&specs, flags).unwrap();
        let config = o.netconnection_config().unwrap();
        assert_eq!(config.client.direct_timeout, None, "the --option wins");
        assert_eq!(config.endpoint.open_timeout, Duration::from_secs(2));
        for (maker, bad) in [
            (publish, "max_streams_per_client=3"),
            (publish, "peer_connect_mode=ask"),
            (publish, "recv_coalesce=1ms"),
        ] {
            let e = maker.options(&[bad.to_owned()], Flags::new()).unwrap_err();
            assert!(
                e.to_string().contains("`rtmfp publish` does not take"),
                "{e}"
            );
        }
        let echo = Maker {
            object: Object::Endpoint,
            command: "echo",
            without: &[],
        };
        let e = echo
            .options(&["direct_timeout=1s".to_owned()], Flags::new())
            .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let o = echo
            .options(&["server=true".to_owned()], Flags::new())
            .unwrap();
        assert!(o.configs(Object::Endpoint).server_role);
        let mut flags = Flags::new();
        let e = flags
            .set("receive_buffer", "--recv-buffer", OptionValue::Int(0))
            .unwrap_err();
        assert!(e.to_string().starts_with("--recv-buffer must be"), "{e}");
        let play = Maker {
            object: Object::NetConnection,
            command: "play",
            without: &[],
        };
        let help = help(play);
        assert!(help.contains("direct_timeout") && help.contains("max_peer_connections"));
        assert!(!help.contains("peer_connect_mode") && !help.contains("max_streams"));
    }
}
