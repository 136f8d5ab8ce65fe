//! The `tldd` command line: every clap type, progress bar and terminal
//! line of tldd lives in this binary ([`cli`]); the work is in the library
//! crates (`tldd_zone`, `tldd_dns`, `tldd_srs`). This file parses the
//! arguments, sets up logging and hands each subcommand to its module.
// The doc comments of this crate are clap's `--help` text, written for a
// terminal (`[[zone]]`, `K<zone>+<alg>`, bare URLs), not for rustdoc.
#![allow(
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags,
    rustdoc::bare_urls
)]
mod cli;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// tldd — the DNS of a top-level domain in one binary.
///
/// Serves a TLD zone authoritatively (UDP fast path, TCP, EDNS, NSID), signs it
/// with DNSSEC (NSEC3 opt-out, keys in a PKCS#11 HSM or soft keys), takes
/// RFC 2136 updates with TSIG, and runs a lightweight registry (EPP, Whois, RDAP).
///
/// Quick start: `tldd serve -c zones/shop.toml`, then `kdig @127.0.0.1 -p 5353 shop. SOA`.
#[derive(Parser)]
#[command(name = "tldd", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the configured zones until SIGTERM/SIGINT.
    ///
    /// Reads the TOML config (see zones/shop.toml for every key), loads each
    /// zone from its file, and answers on every `[server] listen` address over
    /// UDP and TCP. Exposes Prometheus metrics on `[server] metrics` if set.
    Serve {
        /// Configuration file (TOML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Zone file tools.
    #[command(subcommand)]
    Zone(ZoneCommand),
    /// Sign a configured zone once and write it as RFC 1035 text.
    ///
    /// NSEC3 (opt-out as configured) and RRSIGs with the zone's active keys,
    /// like dnssec-signzone or ldns-signzone.
    Sign(cli::sign::SignArgs),
    /// Key management: generate, list, DS/DNSKEY export, audit log.
    Keys(cli::keys::KeysArgs),
    /// The lightweight registry (EPP, lifecycle, publisher).
    Srs(cli::srs::SrsArgs),
    /// The zone store in data_dir: check every file, recover a damaged one.
    Store(cli::store::StoreArgs),
    /// Steer a running server (status, zone-status, zone-notify, ...), as knotc.
    Ctl(cli::ctl::CtlArgs),
}

#[derive(Subcommand)]
enum ZoneCommand {
    /// Parse and check a zone file; report problems with line numbers.
    ///
    /// Checks: SOA and NS at the apex, glue present for in-bailiwick name
    /// servers, no data below a delegation other than glue, CNAME not next to
    /// other data, data outside the origin. Exit status 1 when errors are found.
    Check {
        /// The zone file.
        file: PathBuf,
        /// The zone's origin, e.g. `shop.`.
        #[arg(long)]
        origin: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `tldd serve`'s `[server] log_format`: JSON lines for a collector.
    let json = match &cli.command {
        Command::Serve { config } => {
            tldd_dns::config::log_format_only(config) == tldd_dns::config::LogFormat::Json
        }
        _ => false,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        log.json().flatten_event(true).init();
    } else {
        log.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    let result = match cli.command {
        Command::Serve { config } => {
            tldd_dns::server::run_from_file(&config, &cli::progress::Bars::on_stderr())
        }
        Command::Zone(ZoneCommand::Check { file, origin }) => {
            cli::zone::run(&file, &origin).map(|ok| {
                if !ok {
                    std::process::exit(1)
                }
            })
        }
        Command::Sign(args) => cli::sign::run(args),
        Command::Keys(args) => cli::keys::run(args),
        Command::Srs(args) => cli::srs::run(args),
        Command::Ctl(args) => {
            return cli::ctl::run(args).unwrap_or_else(|e| {
                eprintln!("tldd: {e:#}");
                ExitCode::from(2)
            })
        }
        Command::Store(args) => cli::store::run(args).map(|ok| {
            if !ok {
                std::process::exit(1)
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tldd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
