//! `tldd keys`: key generation, listing, DS/DNSKEY export and the audit log.
//!
//! # Design
//!
//! Thin commands over three layers: [`crate::hsm`] (the keys themselves),
//! [`state`] (which keys a zone has: the signer reads it through
//! [`state::active_keys`]) and [`audit`] (the hash-chained record of every
//! key operation). Everything lives in `data_dir/keys/` (mode 0700):
//! `state.json`, `audit.log`, `.lock` and the soft keys' `*.pk8` files.
//!
//! A command that changes or exports keys takes the `flock` on
//! `data_dir/keys/.lock`, does its work, saves the state atomically, then
//! appends its audit entry; the operator is `--operator`, else
//! `$TLDD_OPERATOR`, else `$USER`. Exports (`ds`, `dnskey`) read the public
//! key from the key itself (the token for HSM keys), never from a copy.
//!
//! # Limits
//!
//! No rollover commands yet (the state file already has `published` and
//! `retired`); no key import; `ds` prints digest type 2 (SHA-256) only. A
//! crash between key creation and the state save leaves an unused key file
//! or token object (harmless; it is not in the state, so never used).
pub mod audit;
pub mod state;

use crate::config::Config;
use crate::hsm::{dnskey, soft, KeyPair, SoftKey, Token};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use state::{KeyState, Keystore, Role, StateFile, StateLock};
use std::path::PathBuf;

pub use state::active_keys;

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
        role: Role,
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
        /// TTL of the printed records.
        #[arg(long, default_value_t = 3600)]
        ttl: u32,
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
        } => generate(&cfg, &operator, &zone, role, algorithm),
        KeysCommand::List { zone } => list(&cfg, zone.as_deref()),
        KeysCommand::Ds { zone, ttl } => ds(&cfg, &operator, &zone, ttl),
        KeysCommand::Dnskey { zone, ttl } => dnskey_cmd(&cfg, &operator, &zone, ttl),
        KeysCommand::Audit {
            verify,
            expect_head,
        } => audit_cmd(&cfg, verify, expect_head.as_deref()),
        KeysCommand::Token => token_cmd(&cfg),
    }
}

fn audit_path(cfg: &Config) -> PathBuf {
    state::keys_dir(cfg).join("audit.log")
}

fn soft_file_name(zone: &str, alg: u8, tag: u16, role: Role) -> String {
    let safe: String = zone
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("K{safe}+{alg:03}+{tag:05}.{}.pk8", role.as_str())
}

/// How many times generation is retried when a new key's tag collides with
/// one the zone already has (RFC 6781 §3.4.3 advises unique tags).
const TAG_COLLISION_TRIES: usize = 8;

fn generate(
    cfg: &Config,
    operator: &str,
    zone_arg: &str,
    role: Role,
    algorithm: Option<u8>,
) -> Result<()> {
    let zone = state::canonical_zone(cfg, zone_arg)?;
    let zcfg = cfg.zone(&zone).context("zone vanished")?;
    let Some(dnssec) = &zcfg.dnssec else {
        bail!(
            "zone {zone} has no [zone.dnssec] section; add one with keystore = \"soft\" or \"hsm\""
        );
    };
    let alg = algorithm.unwrap_or(dnssec.algorithm);
    if !dnskey::is_supported(alg) {
        bail!("algorithm {alg} is not supported (8 RSASHA256, 13 ECDSAP256SHA256, 15 ED25519)");
    }
    let keystore = Keystore::from(dnssec.keystore);
    let dir = state::ensure_keys_dir(cfg)?;
    let _lock = StateLock::acquire(&dir)?;
    let mut st = StateFile::load(&dir)?;
    let taken: Vec<u16> = st.zone_keys(&zone).map(|k| k.key_tag).collect();

    let mut record = None;
    for _ in 0..TAG_COLLISION_TRIES {
        match keystore {
            Keystore::Soft => {
                let pk8 = soft::generate_pkcs8(alg)?;
                let key = SoftKey::from_pkcs8(alg, role.flags(), &pk8)?;
                let kp = KeyPair::Soft(key);
                if taken.contains(&kp.key_tag()) {
                    continue;
                }
                let file = soft_file_name(&zone, alg, kp.key_tag(), role);
                soft::write_private_file(&dir, &file, &pk8)?;
                let mut r = state::new_record(&zone, &kp, role);
                r.file = Some(file);
                record = Some((r, kp));
            }
            Keystore::Hsm => {
                let hsm = cfg.hsm.as_ref().context("keystore = \"hsm\" needs [hsm]")?;
                let token = Token::open(hsm)?;
                let mut id = [0u8; 16];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
                    .map_err(|_| anyhow::anyhow!("no randomness for CKA_ID"))?;
                let created = audit::now_rfc3339();
                let label = format!("tldd {zone} {} {created}", role.as_str());
                let key = token.generate(alg, role.flags(), &id, &label)?;
                let kp = KeyPair::Pkcs11(key);
                if taken.contains(&kp.key_tag()) {
                    token.destroy(&id)?;
                    continue;
                }
                let mut r = state::new_record(&zone, &kp, role);
                r.token = Some(token.label().to_string());
                r.id = Some(hex::encode(id));
                r.label = Some(label);
                record = Some((r, kp));
            }
        }
        break;
    }
    let Some((rec, kp)) = record else {
        bail!("could not generate a key whose tag differs from the zone's {taken:?}");
    };
    st.keys.push(rec.clone());
    st.save(&dir)?;
    audit::append(
        &audit_path(cfg),
        audit::Event {
            operator: operator.into(),
            action: "generate".into(),
            zone: zone.clone(),
            key_tag: Some(rec.key_tag),
            role: Some(role.as_str().into()),
            algorithm: Some(alg),
            keystore: Some(keystore.as_str().into()),
            token: rec.token.clone(),
        },
    )?;
    eprintln!(
        "generated {} {} key tag {} algorithm {alg} ({}) in {} {}",
        zone,
        role.as_str().to_uppercase(),
        rec.key_tag,
        dnskey::algorithm_name(alg),
        keystore.as_str(),
        rec.locator()
    );
    println!("{}", dnskey_line(&zone, 3600, &kp));
    Ok(())
}

fn list(cfg: &Config, zone: Option<&str>) -> Result<()> {
    let zone = zone.map(|z| state::canonical_zone(cfg, z)).transpose()?;
    let st = StateFile::load(&state::keys_dir(cfg))?;
    println!(
        "{:<24} {:>5} {:<4} {:>3} {:<15} {:<8} {:<9} {:<20} LOCATION",
        "ZONE", "TAG", "ROLE", "ALG", "ALGORITHM", "KEYSTORE", "STATE", "CREATED"
    );
    for k in st
        .keys
        .iter()
        .filter(|k| zone.as_deref().is_none_or(|z| k.zone == z))
    {
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
    Ok(())
}

/// `owner TTL IN DNSKEY flags 3 alg base64`.
pub fn dnskey_line(zone: &str, ttl: u32, key: &KeyPair) -> String {
    use base64::Engine;
    format!(
        "{zone} {ttl} IN DNSKEY {} {} {} {}",
        key.flags(),
        dnskey::PROTOCOL,
        key.algorithm(),
        base64::engine::general_purpose::STANDARD.encode(key.public_key())
    )
}

/// `owner TTL IN DS tag alg 2 HEX`.
pub fn ds_line(zone: &str, ttl: u32, key: &KeyPair) -> Result<String> {
    let digest = dnskey::ds_sha256(zone, key.dnskey_rdata()).map_err(anyhow::Error::msg)?;
    Ok(format!(
        "{zone} {ttl} IN DS {} {} 2 {}",
        key.key_tag(),
        key.algorithm(),
        hex::encode_upper(digest)
    ))
}

fn export(
    cfg: &Config,
    operator: &str,
    zone_arg: &str,
    action: &str,
    only_ksk: bool,
    line: impl Fn(&str, &KeyPair) -> Result<String>,
) -> Result<()> {
    let zone = state::canonical_zone(cfg, zone_arg)?;
    let dir = state::ensure_keys_dir(cfg)?;
    let _lock = StateLock::acquire(&dir)?;
    let keys: Vec<_> = state::load_keys(cfg, &zone, &[KeyState::Active, KeyState::Published])?
        .into_iter()
        .filter(|(r, _)| !only_ksk || r.role == Role::Ksk)
        .collect();
    if keys.is_empty() {
        bail!(
            "zone {zone} has no {}key; run `tldd keys generate --zone {zone} --role ksk` first",
            if only_ksk { "KSK " } else { "" }
        );
    }
    let mut out = String::new();
    for (_, k) in &keys {
        out.push_str(&line(&zone, k)?);
        out.push('\n');
    }
    for (r, _) in &keys {
        audit::append(
            &audit_path(cfg),
            audit::Event {
                operator: operator.into(),
                action: action.into(),
                zone: zone.clone(),
                key_tag: Some(r.key_tag),
                role: Some(r.role.as_str().into()),
                algorithm: Some(r.algorithm),
                keystore: Some(r.keystore.as_str().into()),
                token: r.token.clone(),
            },
        )?;
    }
    print!("{out}");
    Ok(())
}

fn ds(cfg: &Config, operator: &str, zone: &str, ttl: u32) -> Result<()> {
    export(cfg, operator, zone, "export-ds", true, |z, k| {
        ds_line(z, ttl, k)
    })
}

fn dnskey_cmd(cfg: &Config, operator: &str, zone: &str, ttl: u32) -> Result<()> {
    export(cfg, operator, zone, "export-dnskey", false, |z, k| {
        Ok(dnskey_line(z, ttl, k))
    })
}

fn audit_cmd(cfg: &Config, verify: bool, expect_head: Option<&str>) -> Result<()> {
    let path = audit_path(cfg);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if !verify {
        print!("{text}");
        return Ok(());
    }
    let v = audit::verify(&text)
        .map_err(|b| anyhow::anyhow!("{}: audit chain BROKEN at {b}", path.display()))?;
    if let Some(want) = expect_head {
        let want = want.trim().to_ascii_lowercase();
        let mut hashes = text
            .split_terminator('\n')
            .map(|l| hex::encode(ring::digest::digest(&ring::digest::SHA256, l.as_bytes())));
        if want != audit::GENESIS && !hashes.any(|h| h == want) {
            bail!(
                "{}: the expected head {want} is not the hash of any line: the log was rewritten or cut",
                path.display()
            );
        }
    }
    println!("audit log OK: {} entries, head {}", v.entries, v.head);
    Ok(())
}

fn token_cmd(cfg: &Config) -> Result<()> {
    let hsm = cfg
        .hsm
        .as_ref()
        .context("the config has no [hsm] section")?;
    let t = Token::open(hsm)?;
    println!("token {:?} in {}", t.label(), hsm.module.display());
    println!("login: ok; signing session pool: {}", t.pool_size());
    for alg in [dnskey::ECDSAP256SHA256, dnskey::ED25519, dnskey::RSASHA256] {
        println!(
            "algorithm {alg:>2} {:<16} {}",
            dnskey::algorithm_name(alg),
            if t.supports(alg) {
                "supported"
            } else {
                "NOT supported by this token"
            }
        );
    }
    Ok(())
}
