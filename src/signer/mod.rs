//! The DNSSEC signer: NSEC3 chain (RFC 5155, RFC 9276 defaults), RRSIGs
//! (RFC 4034/4035), verify-before-serve, and `tldd sign`.
//!
//! - [`key`]: the signer's narrow key interface ([`SigningKey`]) and a ring
//!   test key.
//! - [`rrsig`]: canonical form and RRSIG wire form.
//! - [`sign`]: full signing of a zone version, in parallel ([`sign_zone`],
//!   [`sign_in_place`]); [`Signer::sign_rrset`] for one RRset.
//! - [`chain`]: chain membership and bitmaps; [`chain::update_name`] splices
//!   one name in or out and re-signs the records it touches.
//! - [`verify()`]: checks a signed version before it is served.
//! - [`zonefile`]: the signed zone as RFC 1035 text.
pub mod chain;
pub mod key;
pub mod rrsig;
pub mod sign;
pub mod verify;
pub mod zonefile;

pub use key::{SigningKey, TestKey};
pub use rrsig::Scratch;
pub use sign::{sign_in_place, sign_zone, SignError, SignOptions, SignStats, Signer};
pub use verify::{
    verify, verify_at, verify_changed, verify_names, verify_rrsets, verify_sampled, Unchanged,
    VerifyError, VerifyStats,
};

use crate::config::Config;
use crate::zone::load::{load_file, Severity};
use anyhow::Context;
use clap::Args;
use std::time::Instant;

/// `tldd sign` arguments.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// tldd configuration file.
    #[arg(short, long)]
    pub config: std::path::PathBuf,
    /// Zone to sign, e.g. `shop.`.
    #[arg(long)]
    pub zone: String,
    /// Where to write the signed zone (RFC 1035 text).
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Verify the signatures of one DS/NSEC3 RRset in N cryptographically
    /// (every RRSIG's fields, the apex, other names and the NSEC3 chain are
    /// always fully checked). 1 (the default) verifies every signature.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub verify_one_in: u32,
}

/// Test hook: with this variable set, `tldd sign` corrupts one signature
/// after signing, so tests can show the verifier stops the output.
#[doc(hidden)]
pub const CORRUPT_ENV: &str = "TLDD_TEST_CORRUPT_SIGNATURE";

/// Test hook: flips one bit of one signature (a DS RRSIG if there is one,
/// else an NSEC3 RRSIG, else the SOA's). Returns whether one was found.
#[doc(hidden)]
pub fn corrupt_one_signature(zone: &mut crate::zone::Zone) -> bool {
    fn flip(set: &mut crate::zone::RRset) -> bool {
        let mut sigs: Vec<Vec<u8>> = set.sigs().map(<[u8]>::to_vec).collect();
        let Some(s) = sigs.first_mut() else {
            return false;
        };
        let last = s.len() - 1;
        s[last] ^= 1;
        let refs: Vec<&[u8]> = sigs.iter().map(|v| v.as_slice()).collect();
        set.set_sigs(&refs);
        true
    }
    let target = zone
        .cuts
        .iter()
        .find(|d| d.ds.is_some())
        .map(|d| d.name.clone());
    if let Some(name) = target {
        if let Some(mut d) = zone.cuts.get(&name).cloned() {
            if let Some(ds) = d.ds.as_mut() {
                flip(ds);
            }
            zone.cuts.insert(d);
            return true;
        }
    }
    if let Some(chain) = zone.nsec3.as_mut() {
        let first = chain.iter().next().cloned();
        if let Some(mut r) = first {
            flip(&mut r.rrset);
            chain.insert(r);
            return true;
        }
    }
    zone.apex.rrsets.first_mut().is_some_and(flip)
}

/// The zone's active keys from the key layer (soft or HSM).
pub fn zone_keys(cfg: &Config, origin: &str) -> anyhow::Result<Vec<crate::hsm::KeyPair>> {
    let keys: Vec<_> = crate::keys::active_keys(cfg, origin)?
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    if keys.is_empty() {
        anyhow::bail!(
            "zone {origin} has no active keys: run `tldd keys -c CONFIG generate --zone {origin} --role ksk` and `--role zsk`"
        );
    }
    Ok(keys)
}

/// Entry point of `tldd sign`.
pub fn run(args: SignArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let cfg = Config::load(&args.config)?;
    let zc = cfg.zone(&args.zone).with_context(|| {
        format!(
            "no [[zone]] with origin {} in {}",
            args.zone,
            args.config.display()
        )
    })?;
    let origin = zc.origin();
    let dnssec = zc
        .dnssec
        .as_ref()
        .with_context(|| format!("zone {origin} has no [zone.dnssec] section"))?;
    let file = zc
        .file
        .as_ref()
        .with_context(|| format!("zone {origin} has no `file`"))?;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let loaded = load_file(file, &origin, tty).with_context(|| format!("zone {origin}"))?;
    let errors = loaded
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    for p in loaded.problems.iter().take(20) {
        tracing::warn!(zone = %origin, "{}:{}: {}", file.display(), p.line, p.message);
    }
    let t_load = started.elapsed().as_secs_f64();
    let mut zone = loaded.zone;
    let keys = zone_keys(&cfg, &origin)?;
    let opts = SignOptions::from_config(dnssec)?;

    let with_ds = zone.cuts.iter().filter(|d| d.ds.is_some()).count() as u64;
    let estimate = zone.apex.rrsets.len() as u64
        + 3
        + zone
            .names
            .values()
            .map(|n| n.rrsets.len() as u64 + 1)
            .sum::<u64>()
        + 2 * with_ds
        + if opts.opt_out {
            0
        } else {
            zone.cuts.len() as u64 - with_ds
        };
    let bar = progress_bar(estimate, &format!("signing {origin}"), tty);
    let t = Instant::now();
    let stats = sign_in_place(&mut zone, &opts, &keys, &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    let t_sign = t.elapsed().as_secs_f64();
    if std::env::var_os(CORRUPT_ENV).is_some() {
        corrupt_one_signature(&mut zone);
    }
    let t = Instant::now();
    let spinner = progress_bar(0, &format!("verifying {origin}"), tty);
    let v = verify::verify_sampled(&zone, sign::unix_now() as u32, args.verify_one_in);
    spinner.finish_and_clear();
    let vstats =
        v.map_err(|e| anyhow::anyhow!("{e}\nnothing written to {}", args.out.display()))?;
    let t_verify = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let tmp = args.out.with_extension("tldd-tmp");
    let f = std::fs::File::create(&tmp).with_context(|| format!("{}", tmp.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let wbar = progress_bar(0, &format!("writing {}", args.out.display()), tty);
    let written = zonefile::write_zone(&zone, &mut w, &|n| wbar.set_position(n))
        .and_then(|n| std::io::Write::flush(&mut w).map(|_| n))
        .with_context(|| format!("{}", tmp.display()))?;
    drop(w);
    wbar.finish_and_clear();
    std::fs::rename(&tmp, &args.out).with_context(|| format!("{}", args.out.display()))?;
    let t_write = t.elapsed().as_secs_f64();
    eprintln!(
        "{origin}: {} delegations, {} NSEC3, {} RRsets signed, {} signatures checked (1 RRset in {} crypto-verified), {errors} load error(s); \
         {written} bytes to {}; load {t_load:.2}s sign {t_sign:.2}s (hash {:.2}s) verify {t_verify:.2}s write {t_write:.2}s total {:.2}s",
        zone.cuts.len(),
        stats.nsec3_records,
        stats.rrsets_signed,
        vstats.signatures,
        args.verify_one_in,
        args.out.display(),
        stats.seconds_hashing,
        started.elapsed().as_secs_f64()
    );
    // The process ends next: freeing millions of small allocations one by
    // one took 2 s of a 1M-delegation run, for nothing.
    std::mem::forget(zone);
    Ok(())
}

fn progress_bar(len: u64, msg: &str, visible: bool) -> indicatif::ProgressBar {
    if !visible {
        return indicatif::ProgressBar::hidden();
    }
    let b = if len > 0 {
        let b = indicatif::ProgressBar::new(len);
        b.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        b
    };
    b.set_message(msg.to_string());
    b
}
