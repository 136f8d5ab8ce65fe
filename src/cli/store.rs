//! `tldd store check DIR` and `tldd store recover -c CONFIG`: the
//! arguments, and the printing of what the journal's checks
//! (`tldd_dns::journal::salvage`) and the recovery (`tldd_dns::recover`)
//! return. One line per file or zone: `ok|damaged|missing WHAT: detail`.
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use tldd_dns::config::Config;
use tldd_dns::journal::{salvage, Journal};
use tldd_dns::keys::{audit, intact, state::StateFile};
use tldd_dns::recover::Outcome;

const STORE_HELP: &str = "\
What DATA_DIR holds:
  zones.sled/          the journal: every acknowledged version since the last snapshot
  snapshots/           a zone's whole content at one journal position
  marks/<zone>.hwm     the high-water mark: the newest acknowledged version and a
                       checksum chain over the journal (checked at every start)
  keys/state.json      the DNSSEC keys' state;  keys/audit.log  the key audit log
  srs.sled/            the registry's store (in the SRS's data_dir)
tldd serve refuses to start on a store that lost acknowledged versions, naming
the file; it never falls back to an older version or the zone file.

When the store is damaged:
  tldd store check /var/lib/tldd             # what is wrong, one line per file
  systemctl stop tldd
  tldd store recover -c /etc/tldd/tldd.toml  # damaged files kept in DATA_DIR/damaged-*/
  systemctl start tldd
  tldd srs -c /etc/tldd/srs.toml reconcile   # the registry re-sends what the zone lost";

/// Check and recover the zone store in data_dir (`tldd store check DIR`).
#[derive(Debug, Args)]
#[command(after_help = STORE_HELP)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// `tldd store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Check every file of a store without changing it; exit status 1 when
    /// anything is damaged or missing.
    ///
    /// The journal of each zone is replayed from its snapshot and compared
    /// with its high-water mark (as `tldd serve` does at start); the key
    /// state is parsed, the key audit log's hash chain verified, and an SRS
    /// store (srs.sled) opened if there is one. Run it with tldd stopped
    /// (a running tldd holds the journal's lock).
    Check {
        /// The data_dir ([server] data_dir, or the SRS's [srs] data_dir).
        dir: PathBuf,
    },
    /// Make a damaged zone store servable again (see below); a sound store
    /// is left as it is.
    ///
    /// Moves zones.sled, marks/ and snapshots/ into DATA_DIR/damaged-<time>/,
    /// then writes a new store holding, per configured zone, the newest
    /// version still readable (the snapshot and the journal entries after it
    /// that apply, else the newest intact snapshot file). A recovered zone
    /// gets a serial past the last acknowledged one (per serial_policy) and
    /// is re-signed, so secondaries transfer it. The versions the store lost
    /// come back from the registry: run `tldd srs reconcile` after the start.
    ///
    /// With --srs-data: accepts the registry store in that directory as it is
    /// (a srs.sled restored from a backup on purpose, which its high-water
    /// mark refuses), keeping the old mark aside and printing how many
    /// acknowledged transactions the restored store lacks.
    Recover {
        /// tldd configuration file (TOML): data_dir and the [[zone]]s.
        #[arg(short, long, required_unless_present = "srs_data")]
        config: Option<PathBuf>,
        /// The SRS's data_dir, to accept its restored srs.sled.
        #[arg(long)]
        srs_data: Option<PathBuf>,
    },
}

/// Runs `tldd store ...`; `Ok(false)`: something is damaged (exit 1).
pub fn run(args: StoreArgs) -> Result<bool> {
    match args.command {
        StoreCommand::Check { dir } => Ok(check(&dir)),
        StoreCommand::Recover { config, srs_data } => {
            if let Some(dir) = srs_data {
                accept_srs(&dir)?;
            }
            match config {
                Some(c) => recover(&c),
                None => Ok(true),
            }
        }
    }
}

fn accept_srs(dir: &Path) -> Result<()> {
    let aside = dir.join(format!(
        "damaged-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    ));
    let (old, held) = tldd_srs::db::accept_as_is(dir, &aside).map_err(|e| anyhow::anyhow!(e.0))?;
    match old {
        Some(acked) if acked > held => println!(
            "accepted srs.sled in {}: it holds {held} transactions, {} were acknowledged: \
             {} acknowledged transactions are lost; tell the registrars what changed since \
             the backup (old mark kept in {})",
            dir.display(),
            acked,
            acked - held,
            aside.display()
        ),
        _ => println!(
            "accepted srs.sled in {}: {held} transactions, none acknowledged are missing",
            dir.display()
        ),
    }
    Ok(())
}

fn check(dir: &Path) -> bool {
    let mut sound = true;
    let mut said = 0;
    let mut say = |ok: bool, what: &str, detail: String| {
        sound &= ok;
        said += 1;
        println!("{} {what}: {detail}", if ok { "ok" } else { "damaged" });
    };
    if !dir.is_dir() {
        println!("missing {}: not a directory", dir.display());
        return false;
    }
    let zones_sled = dir.join("zones.sled");
    let has_zone_store = zones_sled.exists() || dir.join("marks").exists();
    let journal = if has_zone_store {
        match Journal::open(dir) {
            Ok(j) => {
                say(true, "zones.sled", "opens".into());
                Some(j)
            }
            Err(e) => {
                say(false, "zones.sled", e.to_string());
                None
            }
        }
    } else {
        None
    };
    for zone in salvage::stored_zone_names(dir, journal.as_ref()) {
        let what = format!("zone {zone}");
        match journal.as_ref().map(|j| j.check_zone(&zone).result) {
            Some(Ok(c)) => {
                let acked = c.acked.map_or("no mark".into(), |(seq, s)| {
                    format!("entry {seq}, serial {s}")
                });
                let detail = match c.serial {
                    Some(s) => format!(
                        "serial {s}, {} journal entries, last acknowledged {acked}",
                        c.journal_entries
                    ),
                    None => "nothing stored (the zone file is loaded at start)".into(),
                };
                say(true, &what, detail);
            }
            Some(Err(e)) => say(false, &what, e.to_string()),
            None => say(false, &what, "the journal does not open (above)".into()),
        }
    }
    let keys = dir.join("keys");
    if keys.join("state.json").exists() {
        match StateFile::load(&keys) {
            Ok(s) => say(true, "keys/state.json", format!("{} keys", s.keys.len())),
            Err(e) => say(false, "keys/state.json", format!("{e:#}")),
        }
    }
    let log = keys.join("audit.log");
    if log.exists() {
        let state = StateFile::load(&keys).ok();
        match std::fs::read_to_string(&log).map(|t| (audit::verify(&t), t)) {
            Ok((Ok(v), text)) => {
                let missing = state
                    .as_ref()
                    .map(|s| intact::unrecorded_keys(&text, s))
                    .unwrap_or_default();
                match missing.first() {
                    None => say(
                        true,
                        "keys/audit.log",
                        format!("{} entries, head {}", v.entries, v.head),
                    ),
                    Some(k) => say(
                        false,
                        "keys/audit.log",
                        format!(
                            "{} entries, but the generation of {} key {} of zone {} (and {} more) \
                             is not in it: lines were cut from its end, or state.json was edited; \
                             compare the head with the last ceremony record (`tldd keys audit \
                             --verify --expect-head HASH`)",
                            v.entries,
                            k.role.as_str(),
                            k.key_tag,
                            k.zone,
                            missing.len() - 1
                        ),
                    ),
                }
            }
            Ok((Err(b), _)) => say(false, "keys/audit.log", b.to_string()),
            Err(e) => say(false, "keys/audit.log", e.to_string()),
        }
    }
    if dir.join("srs.sled").exists() {
        match tldd_srs::db::Store::open(dir, "", "") {
            Ok(_) => say(true, "srs.sled", "opens".into()),
            Err(e) => say(false, "srs.sled", e.0),
        }
    }
    if said == 0 {
        println!("ok {}: holds no store yet", dir.display());
    }
    sound
}

fn recover(config: &Path) -> Result<bool> {
    let cfg = Config::load(config)?;
    let report = tldd_dns::recover::recover(&cfg)?;
    let Some(aside) = &report.aside else {
        for (zone, _) in &report.zones {
            println!("ok zone {zone}: the store passed its checks; nothing changed");
        }
        return Ok(true);
    };
    println!("moved the damaged store to {}", aside.display());
    let mut reconcile = false;
    for (zone, outcome) in &report.zones {
        match outcome {
            Outcome::Sound { serial } => println!(
                "ok zone {zone}: rewritten unchanged (serial {})",
                serial.map_or("-".into(), |s| s.to_string())
            ),
            Outcome::Restored {
                salvaged_serial,
                serial,
                source,
                acked_serial,
                reason,
            } => {
                reconcile = true;
                println!("recovered zone {zone}: was: {reason}");
                println!(
                    "recovered zone {zone}: serial {salvaged_serial} from {source}, \
                     now served as serial {serial} (last acknowledged: {})",
                    acked_serial.map_or("unknown".into(), |s| s.to_string())
                );
            }
            Outcome::Lost { reason, .. } => {
                reconcile = true;
                println!(
                    "lost zone {zone}: nothing readable ({reason}); tldd serve loads the zone \
                     file (primary) or transfers it (secondary)"
                );
            }
        }
    }
    for zone in &report.unconfigured {
        println!(
            "kept zone {zone}: not in the configuration; only in {}",
            aside.display()
        );
    }
    if reconcile {
        println!(
            "next: start tldd, then `tldd srs -c SRS_CONFIG reconcile` so the registry \
             sends the registrations the store lost"
        );
    }
    Ok(true)
}
