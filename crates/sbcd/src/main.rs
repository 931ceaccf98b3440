//! `sbcd`: the Session Border Controller daemon and its tools.
//!
//! * `sbcd run [--config PATH] [--log-json]`: run the SBC (embedded lab default without
//!   `--config`). Prints one `listening NAME TRANSPORT ADDR` line per listener and then
//!   `ready` on stdout once every socket is bound; SIGTERM/SIGINT stop it.
//! * `sbcd check-config PATH`: validate a configuration file (exit 0, or 1 with
//!   `file:line:col: reason`).
//! * `sbcd inspect [--stream] FILE|-`: parse captured SIP and print a JSON summary.

use std::io::{Read, Write};
use std::process::ExitCode;

mod inspect;
mod run;

const USAGE: &str = "\
usage: sbcd <command> [options]

commands:
  run [--config PATH] [--log-json]
                              run the SBC; without --config it uses the embedded default
                              (a lab on 127.0.0.1:5060 UDP+TCP)
  check-config PATH           validate a configuration file
  inspect [--stream] FILE|-   parse a captured SIP message (datagram framing by default,
                              --stream for TCP/TLS framing; '-' reads stdin) and print a
                              JSON summary. Exit 0 = accepted, 1 = the SBC would reject it,
                              2 = parse error.
  help                        this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("inspect") => run_inspect(&args[1..]),
        Some("run") => run::run(&args[1..]),
        Some("check-config") => run::check_config(&args[1..]),
        Some("help" | "--help" | "-h") => {
            let _ = std::io::stdout().write_all(USAGE.as_bytes());
            ExitCode::SUCCESS
        }
        Some("--version" | "-V") => {
            let _ = writeln!(std::io::stdout(), "sbcd {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            let _ = std::io::stderr().write_all(USAGE.as_bytes());
            ExitCode::from(64)
        }
    }
}

fn run_inspect(args: &[String]) -> ExitCode {
    let mut stream = false;
    let mut path = None;
    for a in args {
        match a.as_str() {
            "--stream" => stream = true,
            "--datagram" => stream = false,
            p if path.is_none() => path = Some(p.to_owned()),
            _ => {
                let _ = std::io::stderr().write_all(USAGE.as_bytes());
                return ExitCode::from(64);
            }
        }
    }
    let Some(path) = path else {
        let _ = std::io::stderr().write_all(USAGE.as_bytes());
        return ExitCode::from(64);
    };
    let data = if path == "-" {
        let mut v = Vec::new();
        std::io::stdin().read_to_end(&mut v).map(|_| v)
    } else {
        std::fs::read(&path)
    };
    let data = match data {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "sbcd inspect: {path}: {e}");
            return ExitCode::from(66);
        }
    };
    let (reports, code) = if stream {
        inspect::inspect_stream(data)
    } else {
        inspect::inspect_datagram(data)
    };
    let mut out = std::io::stdout().lock();
    for r in reports {
        let _ = serde_json::to_writer_pretty(&mut out, &r);
        let _ = out.write_all(b"\n");
    }
    ExitCode::from(code)
}
