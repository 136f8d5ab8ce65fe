//! `tldd sign`: the offline signer's command (load, sign, verify, write),
//! with progress bars and the summary line. The work is `tldd_dns::signer`.
use super::progress::Bars;
use anyhow::Context;
use clap::Args;
use std::time::Instant;
use tldd_dns::config::Config;
use tldd_dns::signer::{
    corrupt_one_signature, sign, sign_as_keys_say, verify, zonefile, SignOptions, CORRUPT_ENV,
};
use tldd_zone::load::{load_file, Severity};
use tldd_zone::progress::{Progress, Unit};

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
    let bars = Bars::on_stderr();
    let loaded = load_file(file, &origin, &bars).with_context(|| format!("zone {origin}"))?;
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
    bars.phase(&format!("signing {origin}"), estimate, Unit::Items);
    let t = Instant::now();
    let (stats, unpublished) =
        sign_as_keys_say(&cfg, &origin, &mut zone, dnssec, &opts, &|n| bars.set(n))?;
    bars.finish();
    let t_sign = t.elapsed().as_secs_f64();
    if std::env::var_os(CORRUPT_ENV).is_some() {
        corrupt_one_signature(&mut zone);
    }
    let t = Instant::now();
    bars.phase(&format!("verifying {origin}"), 0, Unit::Items);
    let v = verify::verify_sampled_with(
        &zone,
        sign::unix_now() as u32,
        args.verify_one_in,
        &unpublished,
    );
    bars.finish();
    let vstats =
        v.map_err(|e| anyhow::anyhow!("{e}\nnothing written to {}", args.out.display()))?;
    let t_verify = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let tmp = args.out.with_extension("tldd-tmp");
    let f = std::fs::File::create(&tmp).with_context(|| format!("{}", tmp.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    bars.phase(&format!("writing {}", args.out.display()), 0, Unit::Items);
    let written = zonefile::write_zone(&zone, &mut w, &|n| bars.set(n))
        .and_then(|n| std::io::Write::flush(&mut w).map(|_| n))
        .with_context(|| format!("{}", tmp.display()))?;
    drop(w);
    bars.finish();
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
