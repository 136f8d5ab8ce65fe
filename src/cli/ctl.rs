//! `tldd ctl -c FILE COMMAND`: steer a running `tldd serve` through its
//! control socket (`data_dir/ctl.sock`, see `tldd_dns::server::control`),
//! as `knotc` does Knot. One fact per line, `key: value` (a blank line
//! between zones), or `--json`; exit 0, 1 (refused), 2 (no server).
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tldd_dns::config::Config;
use tldd_dns::server::control::{request, Reply, Request};

const CTL_HELP: &str = "\
Examples:
  tldd ctl -c /etc/tldd/tldd.toml status
  tldd ctl -c /etc/tldd/tldd.toml reload          # or: kill -HUP $(pidof tldd)
  tldd ctl -c /etc/tldd/tldd.toml zone-status shop.
  tldd ctl -c /etc/tldd/tldd.toml --json zone-status
  tldd ctl -c /etc/tldd/tldd.toml zone-reload shop.   # after editing its file
  tldd ctl -c /etc/tldd/tldd.toml zone-sign shop.
  tldd ctl -c /etc/tldd/tldd.toml zone-notify shop.
  tldd ctl -c /etc/tldd/tldd.toml zone-flush shop. --out /tmp/shop.zone
  tldd ctl -c /etc/tldd/tldd.toml zone-key-rollover shop. zsk
  tldd ctl -c /etc/tldd/tldd.toml zone-ksk-submitted shop.
Exit status: 0 done, 1 refused (the reason is printed), 2 no server answers
on DATA_DIR/ctl.sock (not running, or another data_dir).";

/// `tldd ctl` arguments.
#[derive(Debug, Args)]
#[command(after_help = CTL_HELP)]
pub struct CtlArgs {
    /// tldd configuration file (TOML): its data_dir holds the socket.
    #[arg(short, long, global = true)]
    pub config: Option<PathBuf>,
    /// Print the answer as JSON (an array of objects, one per block).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// `tldd ctl` commands (named as knotc's).
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Version, pid, uptime, data_dir, zones, listeners.
    Status,
    /// Read the configuration file again and apply it (as SIGHUP): zones
    /// added, removed or changed, TSIG keys, ACLs, NOTIFY targets, listen
    /// addresses. A file with an error is refused (key and line) and the
    /// running configuration stays; `[server]` keys that need a restart
    /// are named under `restart_needed`.
    Reload,
    /// Serial, role, signed, delegations, journal depth, NOTIFY state; a
    /// secondary's primary, last contact, next refresh and expiry; a signed
    /// zone's next signature refresh. All zones without ZONE.
    ZoneStatus {
        /// e.g. shop.
        zone: Option<String>,
    },
    /// Send NOTIFY for the served serial to every `notify` target now.
    ZoneNotify { zone: String },
    /// Secondary: check the primary's SOA now (transfer when behind).
    ZoneRefresh { zone: String },
    /// Secondary: transfer the whole zone now (AXFR), whatever the serial.
    ZoneRetransfer { zone: String },
    /// Answer updates SERVFAIL until zone-thaw. SERVFAIL, not REFUSED:
    /// senders retry (the SRS keeps its changes queued), nothing is lost.
    /// Transfers, NOTIFY and signature refresh go on.
    ZoneFreeze { zone: String },
    /// Take updates again.
    ZoneThaw { zone: String },
    /// Start a key roll (as `tldd keys roll`; the server drives it): zsk
    /// (pre-publication) or ksk (double signature, CDS/CDNSKEY).
    ZoneKeyRollover {
        zone: String,
        #[arg(value_parser = ["zsk", "ksk"])]
        role: String,
    },
    /// The parent serves the DS of the zone's KSK that waits for it (state
    /// `ready`): as `tldd keys ds-seen` for that key.
    ZoneKskSubmitted { zone: String },
    /// Read the zone's file again. Its differences to the served zone
    /// become one new version (signed and verified like an update,
    /// journaled, sent by IXFR); a file with errors changes nothing. With
    /// --force the file replaces the zone (secondaries then AXFR).
    ZoneReload {
        zone: String,
        #[arg(long)]
        force: bool,
    },
    /// Sign the whole zone again now (new NSEC3 chain, every RRSIG),
    /// verified before it is served; secondaries transfer it by AXFR.
    ZoneSign { zone: String },
    /// Write the served zone as RFC 1035 text (default
    /// DATA_DIR/flush/<zone>zone; written by the server, so a path it can
    /// write).
    ZoneFlush {
        zone: String,
        /// Where to write (an absolute path is best: the server's
        /// working directory is not yours).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs `tldd ctl`; returns the exit status.
pub fn run(args: CtlArgs) -> anyhow::Result<ExitCode> {
    let path = args
        .config
        .ok_or_else(|| anyhow::anyhow!("-c/--config FILE is required (the server's config)"))?;
    // A file that no longer parses still names the server's socket, so
    // `reload` gets the server's refusal (with key and line) rather than
    // ours; key commands need the whole file.
    let (cfg, data_dir) = match Config::load(&path) {
        Ok(cfg) => {
            let d = cfg.server.data_dir.clone();
            (Some(cfg), d)
        }
        Err(e) => match tldd_dns::config::data_dir_only(&path) {
            Some(d) => (None, d),
            None => return Err(e.into()),
        },
    };
    if let Some(cfg) = &cfg {
        if let Some(code) = key_command(cfg, &args.command, args.json)? {
            return Ok(code);
        }
    } else if matches!(
        args.command,
        CtlCommand::ZoneKeyRollover { .. } | CtlCommand::ZoneKskSubmitted { .. }
    ) {
        Config::load(&path)?;
    }
    let req = match args.command {
        CtlCommand::ZoneKeyRollover { .. } | CtlCommand::ZoneKskSubmitted { .. } => {
            unreachable!("handled by key_command")
        }
        CtlCommand::Status => Request::Status,
        CtlCommand::Reload => Request::Reload,
        CtlCommand::ZoneReload { zone, force } => Request::ZoneReload { zone, force },
        CtlCommand::ZoneSign { zone } => Request::ZoneSign { zone },
        CtlCommand::ZoneStatus { zone } => Request::ZoneStatus { zone },
        CtlCommand::ZoneNotify { zone } => Request::ZoneNotify { zone },
        CtlCommand::ZoneRefresh { zone } => Request::ZoneRefresh { zone },
        CtlCommand::ZoneRetransfer { zone } => Request::ZoneRetransfer { zone },
        CtlCommand::ZoneFreeze { zone } => Request::ZoneFreeze { zone },
        CtlCommand::ZoneThaw { zone } => Request::ZoneThaw { zone },
        CtlCommand::ZoneFlush { zone, out } => Request::ZoneFlush {
            zone,
            out: out.map(|p| std::path::absolute(&p).unwrap_or(p)),
        },
    };
    let reply = match request(&data_dir, &req) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "tldd ctl: no server on {}: {e}",
                tldd_dns::server::control::socket_path(&data_dir).display()
            );
            return Ok(ExitCode::from(2));
        }
    };
    print(&reply, args.json);
    Ok(if reply.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `zone-key-rollover` and `zone-ksk-submitted`: the key state is changed
/// here (as `tldd keys` does), then the server is told to run a key step.
fn key_command(cfg: &Config, cmd: &CtlCommand, json: bool) -> anyhow::Result<Option<ExitCode>> {
    use tldd_dns::keys::{lifecycle, state::KeyState, state::Role};
    let operator = std::env::var("TLDD_OPERATOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    let (zone, done) = match cmd {
        CtlCommand::ZoneKeyRollover { zone, role } => {
            let role = if role == "ksk" { Role::Ksk } else { Role::Zsk };
            let made = lifecycle::start_roll(cfg, &operator, zone, role, None, false);
            (
                zone,
                made.map(|m| {
                    m.iter()
                        .map(|g| {
                            format!(
                                "new {} {} ({})",
                                g.record.role.as_str(),
                                g.record.key_tag,
                                g.record.state.as_str()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
            )
        }
        CtlCommand::ZoneKskSubmitted { zone } => {
            let origin = tldd_dns::keys::state::canonical_zone(cfg, zone)?;
            let ready: Vec<u16> = lifecycle::zone_records(cfg, &origin)?
                .into_iter()
                .filter(|k| k.role == Role::Ksk && k.state == KeyState::Ready)
                .map(|k| k.key_tag)
                .collect();
            let done = match ready.as_slice() {
                [tag] => lifecycle::ds_seen(cfg, &operator, &origin, *tag)
                    .map(|r| format!("KSK {} DS seen at the parent", r.key_tag)),
                [] => Err(anyhow::anyhow!(
                    "no KSK of {origin} waits for the parent (none is ready)"
                )),
                many => Err(anyhow::anyhow!(
                    "several KSKs are ready ({many:?}); use `tldd keys ds-seen --key TAG`"
                )),
            };
            (zone, done)
        }
        _ => return Ok(None),
    };
    let reply = match done {
        Err(e) => Reply {
            ok: false,
            blocks: Vec::new(),
            error: Some(format!("zone {zone}: {e:#}")),
        },
        Ok(result) => {
            let poke = request(
                &cfg.server.data_dir,
                &Request::ZoneKeys { zone: zone.clone() },
            );
            let mut block = vec![
                ("zone".to_string(), zone.clone()),
                ("result".to_string(), result),
            ];
            match poke {
                Ok(r) if r.ok => block.extend(r.blocks.into_iter().flatten()),
                Ok(r) => block.push(("server".into(), r.error.unwrap_or_default())),
                Err(_) => {
                    block.push(("server".into(), "not running: takes effect at start".into()))
                }
            }
            Reply {
                ok: true,
                blocks: vec![block],
                error: None,
            }
        }
    };
    print(&reply, json);
    Ok(Some(if reply.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }))
}

fn print(reply: &Reply, json: bool) {
    if json {
        let blocks: Vec<serde_json::Map<String, serde_json::Value>> = reply
            .blocks
            .iter()
            .map(|b| {
                b.iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect()
            })
            .collect();
        let out = match &reply.error {
            Some(e) => serde_json::json!({ "ok": false, "error": e }),
            None => serde_json::json!(blocks),
        };
        println!("{out}");
        return;
    }
    if let Some(e) = &reply.error {
        eprintln!("tldd ctl: {e}");
    }
    for (i, b) in reply.blocks.iter().enumerate() {
        if i > 0 {
            println!();
        }
        for (k, v) in b {
            println!("{k}: {v}");
        }
    }
}
