//! `tldd keys ksr|skr|import-skr`: the offline-KSK exchange
//! (`tldd_dns::signer::skr`), its times read and its results printed.
use anyhow::{bail, Context, Result};
use std::path::Path;
use tldd_dns::config::Config;
use tldd_dns::keys::roll::{rfc3339, unix};
use tldd_dns::signer::skr;

/// A time argument: RFC 3339, Unix seconds, `now`, `+DURATION`.
fn time_arg(name: &str, v: &str, now: u64) -> Result<u64> {
    let v = v.trim();
    if v == "now" {
        return Ok(now);
    }
    if let Some(d) = v.strip_prefix('+') {
        return tldd_dns::config::parse_duration(d)
            .map(|d| now + d)
            .with_context(|| format!("--{name} {v:?}: not a duration (+90d, +12h, +30s)"));
    }
    if let Ok(n) = v.parse::<u64>() {
        return Ok(n);
    }
    unix(&Some(v.to_string()))
        .with_context(|| format!("--{name} {v:?}: RFC 3339, Unix seconds, now or +DURATION"))
}

fn write_out(out: &Path, data: &[u8]) -> Result<()> {
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, data).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))
}

/// `tldd keys ksr`.
pub fn ksr(
    cfg: &Config,
    operator: &str,
    zone: &str,
    from: &str,
    to: &str,
    out: Option<&Path>,
) -> Result<()> {
    let now = tldd_dns::signer::sign::unix_now();
    let (from, to) = (time_arg("from", from, now)?, time_arg("to", to, now)?);
    let made = skr::make_ksr(cfg, operator, zone, from, to)?;
    for g in &made.generated {
        eprintln!(
            "planned ZSK {} (algorithm {}, {}) published {}",
            g.key_tag,
            g.algorithm,
            g.keystore.as_str(),
            g.plan_publish.as_deref().unwrap_or("-")
        );
    }
    for s in &made.slots {
        let tags: Vec<String> = s
            .dnskeys
            .iter()
            .map(|rd| tldd_dns::hsm::dnskey::key_tag(rd).to_string())
            .collect();
        eprintln!("slot {} zsk {}", rfc3339(s.at), tags.join(","));
    }
    match out {
        Some(p) => {
            write_out(p, &made.text)?;
            eprintln!(
                "KSR with {} slots written to {}",
                made.slots.len(),
                p.display()
            );
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&made.text)?;
        }
    }
    Ok(())
}

/// `tldd keys skr`: signs, and prints the ceremony transcript.
pub fn skr(cfg: &Config, operator: &str, zone: &str, ksr: &Path, out: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(ksr).with_context(|| format!("cannot read {}", ksr.display()))?;
    let signed = skr::sign_ksr(cfg, operator, zone, ksr, &text)?;
    write_out(out, &signed.text)?;
    let (Some(first), Some(last)) = (signed.skr.slots.first(), signed.skr.slots.last()) else {
        bail!("the KSR has no slots");
    };
    eprintln!("=== tldd KSK ceremony transcript ===");
    eprintln!(
        "time:       {}",
        rfc3339(tldd_dns::signer::sign::unix_now())
    );
    eprintln!("operator:   {operator}");
    eprintln!(
        "zone:       {}",
        tldd_dns::keys::state::canonical_zone(cfg, zone)?
    );
    eprintln!("ksr:        {} sha256 {}", ksr.display(), signed.ksr_sha256);
    if let Ok(t) = tldd_dns::keys::token_info(cfg) {
        eprintln!("token:      {:?}", t.label);
    }
    for k in &signed.ksks {
        eprintln!(
            "ksk:        {} algorithm {} {} {}",
            k.key_tag,
            k.algorithm,
            k.keystore.as_str(),
            k.locator()
        );
    }
    for d in &signed.ds {
        eprintln!("ds:         {d}");
    }
    for s in &signed.skr.slots {
        let z: Vec<String> = s.zsk_tags().iter().map(u16::to_string).collect();
        eprintln!(
            "slot:       {} zsk {} expires {}{}",
            rfc3339(s.at),
            z.join(","),
            s.expires().map_or("-".into(), rfc3339),
            if s.cds.is_some() { " cds" } else { "" }
        );
    }
    eprintln!(
        "skr:        {} slots {} .. {}, written to {}",
        signed.skr.slots.len(),
        rfc3339(first.at),
        rfc3339(last.at),
        out.display()
    );
    eprintln!(
        "=== end of transcript: witnesses check the DS against the parent's and sign below ==="
    );
    Ok(())
}

/// `tldd keys import-skr`.
pub fn import_skr(
    cfg: &Config,
    operator: &str,
    zone: &str,
    file: &Path,
    force: bool,
) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let r = skr::import(cfg, operator, zone, file, &text, force)?;
    println!(
        "imported {} slots {} .. {} (kept {} earlier), KSK {:?}, runs out {}",
        r.slots,
        rfc3339(r.first),
        rfc3339(r.last),
        r.kept,
        r.ksks,
        r.runs_out.map_or("-".into(), rfc3339)
    );
    Ok(())
}
