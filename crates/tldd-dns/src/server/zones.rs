//! A zone's life in the running server: loaded (from the store, or from
//! its file and signed), then given its event loop ([`Prepared`]: every
//! decision the configuration makes, checked before anything runs, then
//! [`Prepared::start`]). `run` does this for every zone at start, `reload`
//! for the zones a new configuration adds or changes.
use crate::config::{Config, ZoneConfig};
use crate::metrics::Metrics;
use crate::runtime::ZoneRuntime;
use crate::wire::ZoneSet;
use anyhow::Context;
use arc_swap::ArcSwap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tldd_zone::load::{load_file, Severity};
use tldd_zone::progress::Progress;

/// Loads one zone from its file (with the checks logged).
pub fn load_zone_file(
    origin: &str,
    file: &Path,
    progress: &dyn Progress,
    m: &Metrics,
) -> anyhow::Result<tldd_zone::Zone> {
    let started = Instant::now();
    let loaded = load_file(file, origin, progress).with_context(|| format!("zone {origin}"))?;
    let errors = loaded
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    for p in loaded.problems.iter().take(20) {
        tracing::warn!(zone = %origin, "{}:{}: {}", file.display(), p.line, p.message);
    }
    if loaded.problems.len() > 20 {
        tracing::warn!(zone = %origin, "... and {} more problems (see `tldd zone check`)", loaded.problems.len() - 20);
    }
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        zone = %origin,
        serial = loaded.zone.serial(),
        records = loaded.records,
        delegations = loaded.zone.cuts.len(),
        errors,
        seconds = format!("{secs:.2}"),
        "zone loaded"
    );
    m.zone_load_seconds.with_label_values(&[origin]).set(secs);
    Ok(loaded.zone)
}

/// The file as `zone-reload` takes it: any error refuses it (naming the
/// first few with their lines), where a start logs them and serves.
pub fn reload_zone_file(origin: &str, file: &Path) -> anyhow::Result<tldd_zone::Zone> {
    let loaded = load_file(file, origin, &tldd_zone::progress::Quiet)
        .with_context(|| format!("zone {origin}"))?;
    let errors: Vec<String> = loaded
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| format!("{}:{}: {}", file.display(), p.line, p.message))
        .collect();
    if !errors.is_empty() {
        anyhow::bail!(
            "zone {origin}: {} error(s) in the file, first: {}",
            errors.len(),
            errors[..errors.len().min(3)].join("; ")
        );
    }
    Ok(loaded.zone)
}

/// The zones at start: from the store when it holds a complete copy,
/// else from the zone file (the writer thread then writes it to the
/// store, see [`crate::events`]). A secondary zone
/// with nothing stored starts unserved and waits for its first transfer.
pub fn load_zones(
    cfg: &Config,
    progress: &dyn Progress,
    m: &Metrics,
    store: &crate::journal::Journal,
) -> anyhow::Result<Vec<(crate::journal::ZoneJournal, Option<tldd_zone::Zone>)>> {
    let mut out = Vec::new();
    for z in &cfg.zone {
        out.push(load_zone(cfg, z, progress, m, store)?);
    }
    // Parsing, signing and verifying freed far more than the zone keeps.
    crate::journal::release_freed_memory();
    Ok(out)
}

/// One zone of [`load_zones`] (also what `reload` does for an added zone).
pub fn load_zone(
    cfg: &Config,
    z: &ZoneConfig,
    progress: &dyn Progress,
    m: &Metrics,
    store: &crate::journal::Journal,
) -> anyhow::Result<(crate::journal::ZoneJournal, Option<tldd_zone::Zone>)> {
    let origin = z.origin();
    let mut zs = store.zone(&origin, z.journal_max)?;
    let mut wire = Vec::new();
    tldd_zone::name::from_text(origin.as_bytes(), &[0], true, &mut wire)
        .map_err(|e| anyhow::anyhow!("zone {origin}: {e}"))?;
    let started = Instant::now();
    let zone = match zs
        .load(&wire)
        .with_context(|| format!("zone {origin}: store"))?
    {
        Some(zone) => {
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(zone = %origin, serial = zone.serial(), delegations = zone.cuts.len(), seconds = format!("{secs:.2}"), "zone loaded from the store");
            m.zone_load_seconds.with_label_values(&[&origin]).set(secs);
            Some(zone)
        }
        None => match &z.file {
            Some(file) => {
                let mark = crate::journal::filemark::FileMark::of_file(file);
                let mut zone = load_zone_file(&origin, file, progress, m)?;
                match mark.and_then(|mk| zs.set_file_mark(&mk)) {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::warn!(zone = %origin, "cannot record the zone file's mark: {e}")
                    }
                }
                if let Some(dnssec) = &z.dnssec {
                    zone = sign_for_serving(cfg, &origin, zone, dnssec, z.serial_policy, m)?;
                }
                // Written to the store by the zone's writer thread
                // while the zone is already being served.
                Some(zone)
            }
            None => {
                tracing::info!(zone = %origin, "secondary zone not in the store yet; waiting for the first transfer");
                None
            }
        },
    };
    if let Some(zone) = &zone {
        m.zone(zone);
    }
    Ok((zs, zone))
}

/// Signs a freshly loaded zone with its active keys and verifies the result
/// (bump-in-the-wire: a version that fails verification is never served).
///
/// The signed zone is new content, so it gets a new serial (the file's
/// moved on by `serial_policy`): a secondary that loaded the same unsigned
/// file must see the primary ahead of it and transfer, or it would serve
/// the zone without DNSKEY, NSEC3 and RRSIG and never notice.
pub(crate) fn sign_for_serving(
    cfg: &Config,
    origin: &str,
    mut zone: tldd_zone::Zone,
    dnssec: &crate::config::DnssecConfig,
    policy: crate::config::SerialPolicy,
    m: &Metrics,
) -> anyhow::Result<tldd_zone::Zone> {
    let started = Instant::now();
    let file_serial = zone.serial();
    let serial = policy.next(file_serial, tldd_tsig::now());
    set_serial(&mut zone, serial).with_context(|| format!("zone {origin}"))?;
    let opts = crate::signer::SignOptions::from_config(dnssec)
        .map_err(|e| anyhow::anyhow!("zone {origin}: {e}"))?;
    let mut signed = zone;
    let (_, unpublished) =
        crate::signer::sign_as_keys_say(cfg, origin, &mut signed, dnssec, &opts, &|_| {})?;
    let keys = signed
        .apex
        .get(tldd_zone::rdata::DNSKEY)
        .map_or(0, |s| s.rdatas().count());
    let now = crate::signer::sign::unix_now() as u32;
    if let Err(e) = crate::signer::verify_sampled_with(&signed, now, 1, &unpublished) {
        m.verify_failures.with_label_values(&[origin]).inc();
        anyhow::bail!("zone {origin}: the signed version failed verification, not serving it: {e}");
    }
    tracing::info!(
        zone = %origin,
        dnskeys = keys,
        nsec3 = signed.nsec3.as_ref().map_or(0, |c| c.len()),
        file_serial,
        serial,
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        "zone signed and verified (a new serial: signing changed the content)"
    );
    Ok(signed)
}

/// Puts `serial` into the zone's SOA (the signatures, if any, are then
/// stale: the caller signs).
pub(crate) fn set_serial(zone: &mut tldd_zone::Zone, serial: u32) -> anyhow::Result<()> {
    tldd_zone::diff::set_serial(zone, serial).context("no valid SOA")
}

/// At start, for a primary zone served from the store: has its file changed
/// since its content last became a version? Reported, and applied as one
/// version with `zonefile_load = "difference"` ([`crate::journal::filemark`]).
pub async fn check_file(z: &ZoneConfig, rt: &ZoneRuntime) {
    use crate::journal::filemark::FileMark;
    let (Some(file), None) = (&z.file, z.primary) else {
        return;
    };
    let origin = z.origin();
    let now = {
        let f = file.clone();
        match tokio::task::spawn_blocking(move || FileMark::of_file(&f)).await {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => {
                tracing::warn!(zone = %origin, file = %file.display(), "cannot read the zone file to compare it with the store: {e}");
                return;
            }
            Err(_) => return,
        }
    };
    match rt.journal.file_mark() {
        Some(was) if was == now => {}
        None => {
            if let Err(e) = rt.journal.set_file_mark(&now) {
                tracing::warn!(zone = %origin, "cannot record the zone file's mark: {e}");
            }
        }
        Some(was) => match z.zonefile_load {
            crate::config::ZonefileLoad::Ignore => tracing::warn!(
                zone = %origin,
                file = %file.display(),
                was = %was.describe(),
                now = %now.describe(),
                "the zone file changed since its content was last loaded; the store's version is served (zonefile_load = \"ignore\"): `tldd ctl zone-reload {origin}` applies its differences"
            ),
            crate::config::ZonefileLoad::Difference => {
                let (o, f) = (origin.clone(), file.clone());
                let loaded = tokio::task::spawn_blocking(move || reload_zone_file(&o, &f)).await;
                let zone = match loaded {
                    Ok(Ok(zone)) => zone,
                    Ok(Err(e)) => {
                        tracing::error!(zone = %origin, "zonefile_load = \"difference\": the changed file is not applied: {e:#}");
                        return;
                    }
                    Err(_) => return,
                };
                let (tx, rx) = tokio::sync::oneshot::channel();
                let c = crate::events::control::Control::ReloadFile {
                    zone: Box::new(zone),
                    force: false,
                    mark: Some(now),
                    reply: tx,
                };
                if rt
                    .events
                    .send(crate::events::Event::Control(c))
                    .await
                    .is_err()
                {
                    return;
                }
                match rx.await {
                    Ok(Ok(done)) => {
                        tracing::info!(zone = %origin, "zonefile_load = \"difference\": the changed file applied: {done}")
                    }
                    Ok(Err(e)) => {
                        tracing::error!(zone = %origin, "zonefile_load = \"difference\": the changed file is not applied: {e}")
                    }
                    Err(_) => {}
                }
            }
        },
    }
}

/// What every zone loop shares.
pub struct Shared {
    pub cfg: Arc<Config>,
    pub zones: Arc<ArcSwap<ZoneSet>>,
    pub metrics: Arc<Metrics>,
    pub rt: tokio::runtime::Handle,
    pub keys: Arc<tldd_tsig::KeyRing>,
}

/// A zone's loop as its configuration decides it, not running yet.
pub struct Prepared {
    z: ZoneConfig,
    origin_text: String,
    origin: Vec<u8>,
    resigner: Option<crate::signer::resign::Resigner>,
    resign_every: Option<std::time::Duration>,
    keyctx: Option<crate::events::keys::KeyCtx>,
    transfer_key: Option<Arc<tldd_tsig::Key>>,
}

impl Prepared {
    /// Everything `z` decides that can fail (its signing keys, options)
    /// without starting anything.
    pub fn new(sh: &Shared, z: &ZoneConfig) -> anyhow::Result<Prepared> {
        let origin_text = z.origin();
        let mut origin = Vec::new();
        tldd_zone::name::from_text(origin_text.as_bytes(), &[0], true, &mut origin)
            .map_err(|e| anyhow::anyhow!("zone {origin_text}: {e}"))?;
        let cfg = &sh.cfg;
        // A signed zone with `[zone.dnssec]` gets its updates re-signed.
        let (resigner, resign_every, keyctx) = match (&z.dnssec, z.primary) {
            (Some(d), None) => {
                let loaded = crate::signer::serving_keys(cfg, &origin_text)
                    .with_context(|| format!("zone {origin_text}: signing keys"))?
                    .1;
                let opts = crate::signer::SignOptions::from_config(d)
                    .map_err(|e| anyhow::anyhow!("zone {origin_text}: {e}"))?;
                let resigner = crate::signer::resign::Resigner {
                    keys: loaded.signing_keys(),
                    opts,
                    refresh_window: d.refresh_window(),
                    jitter: d.jitter(),
                    unpublished: loaded.unpublished_signers(),
                    presigned_keys: d.offline_ksk,
                };
                // Signature refresh passes at a steady pace, the first right
                // away (a zone restored from the journal with old signatures
                // is fixed first).
                let every =
                    crate::signer::refresh::check_interval(d.validity(), d.refresh_window());
                let keyctx = crate::events::keys::KeyCtx {
                    cfg: cfg.clone(),
                    timings: d.timings(),
                    dnskey_ttl: d.dnskey_ttl(),
                    cds_digests: d.cds_digest_types.clone(),
                    parents: d.ksk_submission.parents(),
                    hsm: d.keystore == crate::config::KeystoreKind::Hsm,
                    offline: d.offline_ksk,
                    skr_warning: d.skr_warning(),
                };
                (Some(resigner), Some(every), Some(keyctx))
            }
            _ => (None, None, None),
        };
        let transfer_key = z
            .transfer_key
            .as_ref()
            .and_then(|k| sh.keys.by_label(k.get_ref()));
        Ok(Prepared {
            z: z.clone(),
            origin_text,
            origin,
            resigner,
            resign_every,
            keyctx,
            transfer_key,
        })
    }

    /// Starts the zone's loop on `journal` with the version `zone` (the
    /// one served; `None`: a secondary waiting for its first transfer).
    /// The caller puts `zone` into the served set.
    pub fn start(
        self,
        sh: &Shared,
        journal: crate::journal::ZoneJournal,
        zone: Option<tldd_zone::Zone>,
    ) -> anyhow::Result<(Arc<ZoneRuntime>, std::thread::JoinHandle<()>)> {
        let Prepared {
            z,
            origin_text,
            origin,
            resigner,
            resign_every,
            keyctx,
            transfer_key,
        } = self;
        if keyctx.as_ref().is_some_and(|k| k.hsm) {
            // It just signed (or its keys were found): up until a
            // signing call fails.
            sh.metrics.hsm_up.with_label_values(&[&origin_text]).set(1);
        }
        let expire_clock = Arc::new(std::sync::atomic::AtomicU64::new(0));
        if z.primary.is_some() {
            sh.zones
                .rcu(|zs| ZoneSet::clone(zs).with_expire_clock(&origin, expire_clock.clone()));
        }
        let needs_snapshot = zone.is_some() && !journal.is_complete();
        let primary_behind = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (events, handle) = crate::events::ZoneLoop {
            needs_snapshot,
            origin_text: origin_text.clone(),
            origin: origin.clone().into(),
            state: zone.map(tldd_zone::ZoneState::new),
            journal: journal.clone(),
            zones: sh.zones.clone(),
            policy: z.serial_policy,
            counted: None,
            resigner,
            resign_every,
            metrics: sh.metrics.clone(),
            rt: sh.rt.clone(),
            notify: z.notify.clone(),
            transfer_key: transfer_key.clone(),
            primary: z.primary,
            expire_clock,
            primary_behind: primary_behind.clone(),
            frozen: None,
            keyctx,
        }
        .spawn()?;
        let mut rt = runtime_of(&z, origin, origin_text, transfer_key, events, journal);
        rt.primary_behind = primary_behind;
        let rt = Arc::new(rt);
        Ok((rt, handle))
    }
}

/// The handlers' view of a zone: its ACLs and keys beside its loop's queue.
pub fn runtime_of(
    z: &ZoneConfig,
    origin: Vec<u8>,
    origin_text: String,
    transfer_key: Option<Arc<tldd_tsig::Key>>,
    events: tokio::sync::mpsc::Sender<crate::events::Event>,
    journal: crate::journal::ZoneJournal,
) -> ZoneRuntime {
    ZoneRuntime {
        origin: origin.into(),
        origin_text,
        update_key: z.update_key.as_ref().map(|k| k.get_ref().clone()),
        transfer_key,
        allow_transfer: z.transfer_acl(),
        allow_notify: z.notify_acl(),
        primary: z.primary,
        primary_behind: Default::default(),
        events,
        journal,
    }
}
