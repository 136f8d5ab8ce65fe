//! `tldd keys`: the arguments, and the printing of what the key layer
//! (`tldd_dns::keys`) returns.
use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use tldd_dns::config::Config;
use tldd_dns::hsm::dnskey;
use tldd_dns::keys::{self, state::Role};

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
  tldd keys -c tldd.toml audit --verify                     # write the head hash down";

/// Manage the DNSSEC keys of the configured zones (`tldd keys -c CONFIG ...`).
#[derive(Debug, Args)]
#[command(after_help = KEYS_HELP)]
pub struct KeysArgs {
    /// tldd configuration file (TOML): data_dir, [[zone]] with [zone.dnssec], [hsm].
    #[arg(short, long)]
    pub config: PathBuf,
    /// Who runs this, for the audit log [default: $USER].
    #[arg(long, env = "TLDD_OPERATOR", global = true)]
    pub operator: Option<String>,
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// `tldd keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a key for a zone and make it active.
    ///
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

/// Entry point of `tldd keys`.
pub fn run(args: KeysArgs) -> Result<()> {
    let cfg = Config::load(&args.config)?;
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
