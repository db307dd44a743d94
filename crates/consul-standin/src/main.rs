//! `consul-standin`: starts a stand-in Consul datacenter from flags and runs until SIGINT or
//! SIGTERM.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let builder = match cli.builder() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("consul-standin: {e}");
            return ExitCode::from(2);
        }
    };
    let result = builder.run_until_signal(|listening| {
        let mut out = std::io::stdout().lock();
        for (name, addr) in &listening.http {
            let _ = writeln!(out, "listening agent={name} http={addr}");
        }
        if let Some(dns) = listening.dns {
            let _ = writeln!(out, "listening dns={dns} proto=udp,tcp");
        }
        let _ = out.flush();
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("consul-standin: {e}");
            ExitCode::FAILURE
        }
    }
}
