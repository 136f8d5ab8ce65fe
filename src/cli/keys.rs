//! `tldd keys`: the arguments, and the printing of what the key layer
//! (`tldd_dns::keys`) returns.
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use tldd_dns::config::Config;
use tldd_dns::hsm::dnskey;
use tldd_dns::keys::{self, state::Role};
use tldd_dns::server::control::{request, Request};

const KEYS_HELP: &str = "\
Keys live in the zone's keystore ([zone.dnssec] keystore):
  soft  PKCS#8 files in DATA_DIR/keys (mode 0600), used through ring
  hsm   generated inside the PKCS#11 token of [hsm]; the private key never leaves it
The list of keys is DATA_DIR/keys/state.json; every generation and export is
appended to the hash-chained DATA_DIR/keys/audit.log.
HSM PIN: $TLDD_HSM_PIN, else [hsm] pin, else [hsm] pin_file. It is never printed.
Development token: eval \"$(hsm/setup-softhsm.sh)\" (see hsm/CEREMONY.md).

A first key ceremony:
  tldd keys -c tldd.toml token                              # login and algorithm check
  tldd keys -c tldd.toml generate --zone shop. --role ksk
  tldd keys -c tldd.toml generate --zone shop. --role zsk
  tldd keys -c tldd.toml list
  tldd keys -c tldd.toml ds --zone shop.                    # hand this to the parent
  tldd keys -c tldd.toml audit --verify                     # write the head hash down

Rollovers (the running server drives them; [zone.dnssec] has the timings):
  tldd keys -c tldd.toml status --zone shop.                # each key, its state, what next and when
  tldd keys -c tldd.toml roll --zone shop. --role zsk       # or wait for zsk_lifetime
  tldd keys -c tldd.toml roll --zone shop. --role ksk       # CDS/CDNSKEY appear when it is ready
  tldd keys -c tldd.toml ds-seen --zone shop. --key TAG     # once the parent serves its DS
  tldd keys -c tldd.toml roll --zone shop. --role ksk --algorithm 15   # algorithm roll

Offline KSK ([zone.dnssec] offline_ksk = true online; hsm/CEREMONY.md):
  tldd keys -c online.toml ksr --zone shop. --from now --to +90d --out shop.ksr
  tldd keys -c ksk.toml skr --zone shop. --ksr shop.ksr --out shop.skr     # at the ceremony
  tldd keys -c online.toml import-skr --zone shop. shop.skr";

/// Manage the DNSSEC keys of the configured zones (`tldd keys -c CONFIG ...`).
#[derive(Debug, Args)]
#[command(after_help = KEYS_HELP)]
pub struct KeysArgs {
    /// tldd configuration file (TOML): data_dir, [[zone]] with [zone.dnssec], [hsm].
    /// Accepted before or after the subcommand.
    #[arg(short, long, global = true)]
    pub config: Option<PathBuf>,
    /// Who runs this, for the audit log [default: $USER].
    #[arg(long, env = "TLDD_OPERATOR", global = true)]
    pub operator: Option<String>,
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// `tldd keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a key for a zone.
    ///
    /// The zone's first KSK and first ZSK are active at once. A key of a role
    /// the zone already has starts a roll: it is `created`, and the running
    /// server publishes it and uses it only after its DNSKEY has propagated
    /// (see `tldd keys status`); the key it replaces is then retired.
    /// The keystore comes from the zone's [zone.dnssec] keystore. HSM keys are
    /// generated inside the token (CKA_SENSITIVE, not extractable) and found
    /// again by CKA_ID; soft keys are written to DATA_DIR/keys/K<zone>+<alg>+<tag>.<role>.pk8.
    /// Prints the new key's tag and its DNSKEY record.
    ///
    /// Example: tldd keys -c tldd.toml generate --zone shop. --role ksk --algorithm 13
    #[command(verbatim_doc_comment)]
    Generate {
        /// Zone origin, as configured (e.g. shop.).
        #[arg(long)]
        zone: String,
        /// ksk signs the DNSKEY RRset (flags 257, DS at the parent); zsk signs the rest (flags 256).
        #[arg(long, value_enum)]
        role: RoleArg,
        /// 13 = ECDSA P-256/SHA-256, 15 = Ed25519, 8 = RSA/SHA-256 2048-bit (HSM only).
        /// [default: the zone's [zone.dnssec] algorithm, else 13]
        #[arg(long, verbatim_doc_comment)]
        algorithm: Option<u8>,
    },
    /// List the keys: zone, key tag, role, algorithm, keystore, state, created, location.
    ///
    /// Reads only the state file: needs neither the HSM nor its PIN.
    List {
        /// Only this zone.
        #[arg(long)]
        zone: Option<String>,
    },
    /// Print the DS records of the zone's KSKs (digest type 2, SHA-256), for the parent.
    ///
    /// Zone-file form, one per line, e.g.
    ///   shop. 86400 IN DS 12345 13 2 3AA5AB37...
    /// The public key is read from the key itself (the token for HSM keys).
    /// Cross-check with: tldd keys ... dnskey --zone shop. | ldns-key2ds -n -2 /dev/stdin
    #[command(verbatim_doc_comment)]
    Ds {
        /// Zone origin.
        #[arg(long)]
        zone: String,
        /// TTL of the printed records.
        #[arg(long, default_value_t = 86400)]
        ttl: u32,
    },
    /// Print the zone's DNSKEY records (active and published keys) in zone-file form.
    ///
    ///   shop. 3600 IN DNSKEY 257 3 13 <base64 public key>
    #[command(verbatim_doc_comment)]
    Dnskey {
        /// Zone origin.
        #[arg(long)]
        zone: String,
        /// TTL of the printed records [default: the zone's `dnskey_ttl`,
        /// the TTL it serves them with]
        #[arg(long)]
        ttl: Option<u32>,
    },
    /// Print the audit log, or check its hash chain with --verify.
    ///
    /// --verify exits with status 1 and names the first broken line if any
    /// line was changed, removed, inserted or reordered; otherwise it prints
    /// the number of entries and the head hash (SHA-256 of the last line).
    /// Record the head in the ceremony log; pass it later as --expect-head to
    /// prove that the log up to then is unchanged.
    #[command(verbatim_doc_comment)]
    Audit {
        /// Check the chain instead of printing the log.
        #[arg(long)]
        verify: bool,
        /// With --verify: a head hash recorded earlier; it must be the hash
        /// of one of the lines (the log may have grown since).
        #[arg(long, requires = "verify", value_name = "SHA256")]
        expect_head: Option<String>,
    },
    /// Each key's state and what happens next, and when; the zone's earliest
    /// signature expiry.
    ///
    /// One line per key: ZONE TAG ROLE ALG KEYSTORE STATE NEXT AT, e.g.
    ///   shop. 40102 zsk 13 soft retiring replace-signatures -
    ///   shop. 51234 zsk 13 soft active roll 2027-03-03T10:00:00Z
    /// States: created presigned published ready active retiring withdrawn
    /// retired (README "Key rollovers"). Asks the
    /// running server (its key step runs first); without one, read from the
    /// state file (times that depend on the zone are then left out).
    #[command(verbatim_doc_comment)]
    Status {
        /// Only this zone [default: every signed zone].
        #[arg(long)]
        zone: Option<String>,
    },
    /// Start a key roll now: ZSK pre-publication, or KSK double signature
    /// with CDS/CDNSKEY (then `ds-seen` once the parent has the new DS).
    ///
    /// Example: tldd keys -c tldd.toml roll --zone shop. --role zsk
    #[command(verbatim_doc_comment)]
    Roll {
        #[arg(long)]
        zone: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Another algorithm than the current keys': an algorithm roll
        /// (RFC 6781 §4.1.4), a new KSK and ZSK together, whatever --role.
        #[arg(long)]
        algorithm: Option<u8>,
        /// Emergency roll (a compromised key): the new key is used at once,
        /// without waiting for caches to learn its DNSKEY; resolvers that
        /// cached the old DNSKEY RRset may fail until its TTL has passed.
        #[arg(long)]
        now: bool,
    },
    /// The parent now serves the DS of the new KSK TAG (state `ready`): the
    /// roll goes on, and the old KSK is removed after the parent's DS TTL.
    ///
    /// Check first, e.g. dig @a.root-servers.net shop. DS
    #[command(verbatim_doc_comment)]
    DsSeen {
        #[arg(long)]
        zone: String,
        /// Key tag of the new KSK.
        #[arg(long)]
        key: u16,
    },
    /// Cancel a roll whose new key is still `created` (not served yet): the
    /// key is marked `retired`, audited, never deleted.
    Cancel {
        #[arg(long)]
        zone: String,
        /// Key tag of the `created` key.
        #[arg(long)]
        key: u16,
    },
    /// Offline KSK, online signer: plan the zone's ZSKs for a period and
    /// write the Key Signing Request for it.
    ///
    /// The ZSK successors the period needs (zsk_lifetime) are generated
    /// now, in the zone's keystore, and enter the zone when their slot
    /// comes. One slot per change of the ZSK set, plus --from and --to.
    /// Times: RFC 3339, Unix seconds, `now`, or `+DURATION` from now
    /// (`+90d`, `+30s`). The file is in Knot DNS's KSR format.
    ///
    /// Example: tldd keys -c tldd.toml ksr --zone shop. --from now --to +90d --out shop.ksr
    #[command(verbatim_doc_comment)]
    Ksr {
        #[arg(long)]
        zone: String,
        #[arg(long, default_value = "now")]
        from: String,
        #[arg(long)]
        to: String,
        /// Write here [default: standard output].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Offline KSK, on the KSK machine at a ceremony: sign a Key Signing
    /// Request into a Signed Key Response with the zone's active KSKs.
    ///
    /// Prints the transcript for the witnesses (stderr): zone, KSR digest,
    /// slots with their ZSK tags, the KSKs, their DS, token, time, operator.
    /// Example: tldd keys -c ksk.toml skr --zone shop. --ksr shop.ksr --out shop.skr
    #[command(verbatim_doc_comment)]
    Skr {
        #[arg(long)]
        zone: String,
        /// The KSR (tldd's or Knot's `keymgr generate-ksr`).
        #[arg(long)]
        ksr: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Offline KSK, online signer: check a Signed Key Response against the
    /// zone's plan and keep it; the running server serves its slots.
    ///
    /// Refused, with the slot named, when its ZSKs are not the planned
    /// ones, a signature does not verify or does not cover its slot, or its
    /// KSKs are not the ones served so far (--force once the parent has
    /// the new KSK's DS).
    #[command(verbatim_doc_comment)]
    ImportSkr {
        #[arg(long)]
        zone: String,
        /// The SKR file.
        file: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Show the HSM token: label, session pool size, which algorithms it can do.
    ///
    /// Logs in with the configured PIN, so it is also the PIN check.
    Token,
}

/// `--role`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Key-signing key: signs the DNSKEY RRset; its DS goes to the parent. Flags 257.
    Ksk,
    /// Zone-signing key: signs everything else. Flags 256.
    Zsk,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Ksk => Role::Ksk,
            RoleArg::Zsk => Role::Zsk,
        }
    }
}

/// Tells the running server (if any) that the key state changed and
/// returns its `status` lines; `None` when no server answers.
fn poke(cfg: &Config, zone: &str) -> Result<Option<Vec<String>>> {
    let req = Request::ZoneKeys {
        zone: zone.to_string(),
    };
    match request(&cfg.server.data_dir, &req) {
        Err(_) => Ok(None),
        Ok(r) if r.ok => Ok(Some(
            r.blocks.into_iter().flatten().map(|(_, v)| v).collect(),
        )),
        Ok(r) => anyhow::bail!(
            "the running server refused the key step: {}",
            r.error.unwrap_or_default()
        ),
    }
}

pub(super) fn report_poke(cfg: &Config, zone: &str) -> Result<()> {
    match poke(cfg, zone)? {
        Some(lines) => {
            eprintln!("the running server took the change:");
            for l in lines {
                eprintln!("  {l}");
            }
        }
        None => eprintln!("no server running: the change takes effect when `tldd serve` starts"),
    }
    Ok(())
}

fn offline_status(cfg: &Config, zone: &str) -> Result<Vec<String>> {
    let zc = cfg.zone(zone).context("zone vanished")?;
    let Some(d) = &zc.dnssec else {
        return Ok(Vec::new());
    };
    let origin = zc.origin();
    let recs = keys::lifecycle::zone_records(cfg, &origin)?;
    // Without the zone: a retiring ZSK is taken to still have signatures.
    let facts = keys::roll::Facts {
        now: tldd_dns::signer::sign::unix_now(),
        max_ttl: 0,
        signing: recs
            .iter()
            .filter(|k| k.sigs_gone.is_none())
            .map(|k| (k.algorithm, k.key_tag))
            .collect(),
        complete: Default::default(),
        offline: None,
    };
    let mut facts = facts;
    if d.offline_ksk {
        if let Some(skr) = tldd_dns::signer::skr::load(cfg, &origin)? {
            facts.offline = Some(keys::roll::Offline {
                slot_zsks: skr
                    .slot_at(facts.now)
                    .map(|s| s.zsk_tags().into_iter().collect())
                    .unwrap_or_default(),
                next_slot: skr.next_after(facts.now),
            });
        }
    }
    Ok(keys::lifecycle::status_lines(&recs, &d.timings(), &facts))
}

/// Entry point of `tldd keys`.
pub fn run(args: KeysArgs) -> Result<()> {
    let path = args
        .config
        .clone()
        .context("-c/--config FILE is required (before or after the subcommand)")?;
    let cfg = Config::load(&path)?;
    let operator = args
        .operator
        .clone()
        .filter(|o| !o.trim().is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    match args.command {
        KeysCommand::Generate {
            zone,
            role,
            algorithm,
        } => {
            let g = keys::generate(&cfg, &operator, &zone, role.into(), algorithm)?;
            let r = &g.record;
            eprintln!(
                "generated {} {} key tag {} algorithm {} ({}) in {} {}",
                r.zone,
                r.role.as_str().to_uppercase(),
                r.key_tag,
                r.algorithm,
                dnskey::algorithm_name(r.algorithm),
                r.keystore.as_str(),
                r.locator()
            );
            println!("{}", keys::dnskey_line(&r.zone, 3600, &g.key));
            if r.state != keys::state::KeyState::Active {
                eprintln!(
                    "key {} is {}: a {} roll starts (see `tldd keys status --zone {}`)",
                    r.key_tag,
                    r.state.as_str(),
                    r.role.as_str(),
                    r.zone
                );
                report_poke(&cfg, &r.zone)?;
            }
        }
        KeysCommand::Status { zone } => {
            let zones: Vec<String> = match zone {
                Some(z) => vec![keys::state::canonical_zone(&cfg, &z)?],
                None => cfg
                    .zone
                    .iter()
                    .filter(|z| z.dnssec.is_some())
                    .map(|z| z.origin())
                    .collect(),
            };
            for z in zones {
                let lines = match poke(&cfg, &z)? {
                    Some(l) => l,
                    None => {
                        eprintln!("no server running: from the state file alone");
                        offline_status(&cfg, &z)?
                    }
                };
                for l in lines {
                    println!("{l}");
                }
            }
        }
        KeysCommand::Roll {
            zone,
            role,
            algorithm,
            now,
        } => {
            let made =
                keys::lifecycle::start_roll(&cfg, &operator, &zone, role.into(), algorithm, now)?;
            for g in &made {
                let r = &g.record;
                eprintln!(
                    "{}roll of {} {}: new key tag {} algorithm {} ({})",
                    if now {
                        "emergency "
                    } else if r.algorithm_roll {
                        "algorithm "
                    } else {
                        ""
                    },
                    r.zone,
                    r.role.as_str().to_uppercase(),
                    r.key_tag,
                    r.algorithm,
                    r.state.as_str()
                );
                println!("{}", keys::dnskey_line(&r.zone, 3600, &g.key));
            }
            if let Some(g) = made.first() {
                report_poke(&cfg, &g.record.zone)?;
            }
        }
        KeysCommand::Cancel { zone, key } => {
            let r = keys::lifecycle::cancel(&cfg, &operator, &zone, key)?;
            println!(
                "{} {} {}: retired before it was served",
                r.zone,
                r.role.as_str(),
                r.key_tag
            );
        }
        KeysCommand::DsSeen { zone, key } => {
            let r = keys::lifecycle::ds_seen(&cfg, &operator, &zone, key)?;
            println!(
                "{} KSK {}: parent DS seen at {}",
                r.zone,
                r.key_tag,
                r.ds_seen.as_deref().unwrap_or("-")
            );
            report_poke(&cfg, &r.zone)?;
        }
        KeysCommand::List { zone } => {
            println!(
                "{:<24} {:>5} {:<4} {:>3} {:<15} {:<8} {:<9} {:<20} LOCATION",
                "ZONE", "TAG", "ROLE", "ALG", "ALGORITHM", "KEYSTORE", "STATE", "CREATED"
            );
            for k in keys::list(&cfg, zone.as_deref())? {
                println!(
                    "{:<24} {:>5} {:<4} {:>3} {:<15} {:<8} {:<9} {:<20} {}",
                    k.zone,
                    k.key_tag,
                    k.role.as_str(),
                    k.algorithm,
                    dnskey::algorithm_name(k.algorithm),
                    k.keystore.as_str(),
                    k.state.as_str(),
                    k.created,
                    k.locator()
                );
            }
        }
        KeysCommand::Ds { zone, ttl } => print!("{}", keys::ds(&cfg, &operator, &zone, ttl)?),
        KeysCommand::Dnskey { zone, ttl } => {
            print!("{}", keys::dnskey(&cfg, &operator, &zone, ttl)?)
        }
        KeysCommand::Audit {
            verify: false,
            expect_head: _,
        } => print!("{}", keys::audit_text(&cfg)?),
        KeysCommand::Audit {
            verify: true,
            expect_head,
        } => {
            let v = keys::audit_verify(&cfg, expect_head.as_deref())?;
            println!("audit log OK: {} entries, head {}", v.entries, v.head);
        }
        KeysCommand::Ksr {
            zone,
            from,
            to,
            out,
        } => super::keys_offline::ksr(&cfg, &operator, &zone, &from, &to, out.as_deref())?,
        KeysCommand::Skr { zone, ksr, out } => {
            super::keys_offline::skr(&cfg, &operator, &zone, &ksr, &out)?
        }
        KeysCommand::ImportSkr { zone, file, force } => {
            super::keys_offline::import_skr(&cfg, &operator, &zone, &file, force)?;
            report_poke(&cfg, &keys::state::canonical_zone(&cfg, &zone)?)?;
        }
        KeysCommand::Token => {
            let t = keys::token_info(&cfg)?;
            let module = cfg.hsm.as_ref().map(|h| h.module.display().to_string());
            println!("token {:?} in {}", t.label, module.unwrap_or_default());
            println!("login: ok; signing session pool: {}", t.pool_size);
            for (alg, ok) in t.algorithms {
                println!(
                    "algorithm {alg:>2} {:<16} {}",
                    dnskey::algorithm_name(alg),
                    if ok {
                        "supported"
                    } else {
                        "NOT supported by this token"
                    }
                );
            }
        }
    }
    Ok(())
}
