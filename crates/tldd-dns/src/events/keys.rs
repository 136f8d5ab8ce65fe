//! Key steps: the zone's loop drives the rollover state machine
//! ([`crate::keys::roll`]).
//!
//! A key step reads the zone's key records, asks the machine what is due
//! with the facts of the served version (which keys still have
//! signatures, the largest TTL), generates a successor when a key reached
//! its lifetime, and makes the served apex match: DNSKEY, CDS and CDNSKEY
//! re-made and signed, the SOA serial moved on ([`crate::signer::apex`]).
//! That version is verified — the whole zone when a DNSKEY goes away, the
//! apex otherwise — and committed like any other (journal, IXFR, NOTIFY);
//! only then are the transitions written to the key state and the audit
//! log, and the re-signer's keys switched. A failure changes nothing
//! and the step is tried again a minute later.
//!
//! Steps run when the loop starts (before any update is signed), at the
//! machine's next due time, after a `tldd keys` command (a
//! [`super::control::Control::Keys`] event) and, while a roll replaces
//! signatures (a retiring key's go, a presigned key's come), once the
//! refresh passes, which do that first and run every second meanwhile,
//! leave nothing pending.
use super::{Run, ZoneLoop};
use crate::config::{Config, RollTimings};
use crate::keys::lifecycle;
use crate::keys::roll::{self, Facts};
use crate::keys::state::{KeyState, Role};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a signed primary's loop needs for key steps.
pub struct KeyCtx {
    pub cfg: Arc<Config>,
    pub timings: RollTimings,
    pub dnskey_ttl: u32,
    pub cds_digests: Vec<u8>,
    /// `ksk_submission` servers: the parent's, polled for a ready KSK's
    /// DS (empty: `tldd keys ds-seen` only).
    pub parents: Vec<std::net::SocketAddr>,
    /// The keystore is an HSM (`tldd_hsm_up` is kept).
    pub hsm: bool,
    /// `offline_ksk`: the key RRsets come from the imported SKR
    /// ([`crate::signer::skr`]).
    pub offline: bool,
    /// `skr_warning`, seconds.
    pub skr_warning: u64,
}

/// What the last key step found.
#[derive(Debug, Clone, Default)]
pub struct KeyReport {
    /// The earliest RRSIG expiry, unix seconds.
    pub earliest_expiry: Option<u64>,
    /// The next timed key event: "ROLE TAG what AT" (RFC 3339).
    pub next_event: Option<String>,
    /// What waits for something without a time ("ROLE TAG what"), such as
    /// the parent's DS or the refresh replacing signatures.
    pub waiting: Vec<String>,
}

/// Longest a loop goes without re-reading its key state.
const IDLE: Duration = Duration::from_secs(3600);
/// Retry after a failed step.
const RETRY: Duration = Duration::from_secs(60);

impl ZoneLoop {
    /// Runs one key step now (see the module doc); `Err` says why nothing
    /// changed. Schedules the next one.
    pub(super) fn key_step(&mut self, run: &mut Run) -> Result<Vec<String>, String> {
        let r = self.try_key_step(run);
        if let Err(e) = &r {
            tracing::error!(zone = %self.origin_text, "key step failed, nothing changed: {e}");
            run.keys_at = Some(Instant::now() + RETRY);
        }
        r
    }

    fn try_key_step(&mut self, run: &mut Run) -> Result<Vec<String>, String> {
        let (Some(kc), Some(state), Some(rs)) = (&self.keyctx, &self.state, &self.resigner) else {
            return Ok(Vec::new());
        };
        if state.zone.nsec3.is_none() {
            return Ok(Vec::new());
        }
        let (cfg, t, ttl, digests, offline, skr_warning) = (
            kc.cfg.clone(),
            kc.timings,
            kc.dnskey_ttl,
            kc.cds_digests.clone(),
            kc.offline,
            kc.skr_warning,
        );
        let mut opts = rs.opts.clone();
        let e = |e: anyhow::Error| format!("{e:#}");
        let origin = self.origin_text.clone();
        let now = crate::signer::sign::unix_now();
        let started = Instant::now();
        let used = crate::signer::refresh::key_use(&state.zone, now);
        let walk_ms = started.elapsed().as_millis() as u64;
        let skr = if offline {
            Some(crate::signer::skr::load(&cfg, &origin).map_err(e)?.ok_or_else(|| {
                format!("zone {origin} has offline_ksk = true and no imported SKR (`tldd keys import-skr`)")
            })?)
        } else {
            None
        };
        let facts = Facts {
            now,
            max_ttl: u64::from(used.max_ttl),
            signing: used.signing.clone(),
            complete: used.complete.clone(),
            offline: skr.as_ref().map(|skr| roll::Offline {
                slot_zsks: skr
                    .slot_at(now)
                    .map(|s| s.zsk_tags().into_iter().collect())
                    .unwrap_or_default(),
                next_slot: skr.next_after(now),
            }),
        };
        let mut recs = lifecycle::zone_records(&cfg, &origin).map_err(e)?;
        let before = recs.clone();
        let (mut moved, generate) = roll::settle(&mut recs, &t, &facts);
        for (role, alg) in generate {
            let g = lifecycle::generate_successor(&cfg, &origin, role, alg).map_err(e)?;
            tracing::info!(zone = %origin, key_tag = g.record.key_tag, role = role.as_str(), "key lifetime reached: successor generated");
            recs.push(g.record);
            let (m, _) = roll::settle(&mut recs, &t, &facts);
            moved.extend(m);
        }
        let marked = marked(&before, &recs);
        let loaded = lifecycle::load_serving(&cfg, &recs).map_err(e)?;
        // Signatures the zone still holds of keys that neither sign nor are
        // published any more (an algorithm roll's retired keys, until the
        // refresh has removed them) are verified with those keys.
        let mut unpublished = loaded.unpublished_signers();
        for r in recs.iter().filter(|r| {
            !roll::signs(r.role, r.state)
                && !r.state.is_published()
                && facts.signing.contains(&(r.algorithm, r.key_tag))
        }) {
            match crate::keys::state::load_key(&cfg, r) {
                Ok(k) => unpublished.push(crate::signer::SigningKey::dnskey_rdata(&k).to_vec()),
                Err(err) => {
                    tracing::warn!(zone = %origin, key_tag = r.key_tag, "a key whose signatures are still in the zone cannot be loaded: {err:#}")
                }
            }
        }
        let mut apex =
            crate::signer::apex::apex_keys(&state.zone.origin, &recs, &loaded, ttl, &digests);
        if let Some(skr) = &skr {
            let published = crate::signer::skr::published_zsks(&recs);
            let slot = crate::signer::skr::serving_slot(skr, &published, now).ok_or_else(|| {
                format!(
                    "the imported SKR has no slot begun with the published ZSKs {published:?}; \
                     the served key RRsets stay as they are (import an SKR for the current plan)"
                )
            })?;
            apex.presigned = Some(slot.clone());
        }
        let signing = loaded.signing_keys();
        opts.now = now;
        let built =
            crate::signer::apex::key_version(&state.zone, &apex, &signing, &opts, self.policy)?;
        if let Some((diff, _)) = built {
            let before = state
                .zone
                .apex
                .get(tldd_zone::rdata::DNSKEY)
                .map(|s| (s.ttl, s.rdatas().count()));
            let next = state.applied(&diff).map_err(|e| e.to_string())?;
            let withdrawn = next
                .zone
                .apex
                .get(tldd_zone::rdata::DNSKEY)
                .map_or(0, |s| s.rdatas().count())
                < state
                    .zone
                    .apex
                    .get(tldd_zone::rdata::DNSKEY)
                    .map_or(0, |s| s.rdatas().count());
            let checked = if withdrawn {
                crate::signer::verify_sampled_with(&next.zone, now as u32, 1, &unpublished)
                    .map(|_| ())
            } else {
                crate::signer::verify_changed_with(
                    &next.zone,
                    &[&next.zone.origin],
                    now as u32,
                    None,
                    &unpublished,
                )
            };
            if let Err(v) = checked {
                self.metrics
                    .verify_failures
                    .with_label_values(&[&origin])
                    .inc();
                return Err(format!(
                    "the key step's version does not verify (not served): {v}"
                ));
            }
            let serial = self
                .store_and_publish(run, &diff, next)
                .map_err(|e| format!("{e:#}"))?;
            tracing::info!(zone = %origin, serial, dnskeys = apex.publish.len(), cds = apex.cds.len(), ttl = apex.ttl, before = ?before, full_verify = withdrawn, ms = started.elapsed().as_millis() as u64, "key RRsets changed");
        }
        if let Some(rs) = self.resigner.as_mut() {
            rs.keys = signing;
            rs.unpublished = unpublished;
        }
        lifecycle::record(&cfg, &origin, &recs, &moved, &marked).map_err(e)?;
        for (tag, to) in &moved {
            tracing::info!(zone = %origin, key_tag = tag, state = to.as_str(), "key state changed");
        }
        // Signatures of a key that stopped signing go, those of a key that
        // started (an algorithm roll's) come, first in the refresh, which
        // runs every second until the zone is signed by the signing ZSKs
        // only, each on every RRset.
        let zsks: Vec<(u8, u16)> = recs
            .iter()
            .filter(|k| k.role == Role::Zsk && roll::signs(k.role, k.state))
            .map(|k| (k.algorithm, k.key_tag))
            .collect();
        let replacing = facts.signing.iter().any(|k| !zsks.contains(k))
            || zsks.iter().any(|k| !facts.complete.contains(k));
        run.replacing = replacing;
        if replacing && !moved.is_empty() {
            run.resign_at = Some(Instant::now());
        }
        let next_due = roll::next_due(&recs, &t, &facts);
        let next_due = match skr.as_ref().and_then(|s| s.next_after(now)) {
            Some(slot) => Some(next_due.map_or(slot, |d| d.min(slot))),
            None => next_due,
        };
        if let Some(skr) = &skr {
            let left = skr.runs_out().map_or(0, |r| r as i64 - now as i64);
            self.metrics
                .skr_remaining
                .with_label_values(&[&origin])
                .set(left);
            if left < skr_warning as i64 {
                tracing::warn!(zone = %origin, runs_out = %skr.runs_out().map_or("-".into(), roll::rfc3339), "the imported Signed Key Response runs out in {left} s (skr_warning {skr_warning} s): hold the next KSK ceremony (`tldd keys ksr`, `skr`, `import-skr`) before then, or the DNSKEY RRset's signatures expire and the zone goes bogus");
            }
        }
        let m = &self.metrics;
        m.key_next_event
            .with_label_values(&[&origin])
            .set(next_due.map_or(-1, |at| at.saturating_sub(now) as i64));
        if let Some(exp) = used.earliest_expiry {
            m.signature_expiry
                .with_label_values(&[&origin])
                .set(exp as i64 - now as i64);
        }
        let wait = next_due.map_or(IDLE, |at| {
            Duration::from_secs(at.saturating_sub(now)).min(IDLE)
        });
        run.keys_at = Some(Instant::now() + wait.max(Duration::from_secs(1)));
        self.poll_parents(run, &loaded, t.parent_ds_ttl);
        let nexts: Vec<(&crate::keys::state::KeyRecord, roll::Next)> = recs
            .iter()
            .filter_map(|k| Some((k, roll::next(k, &recs, &t, &facts)?)))
            .collect();
        run.key_report = KeyReport {
            earliest_expiry: used.earliest_expiry,
            next_event: nexts
                .iter()
                .filter_map(|(k, n)| Some((n.at?, k, n)))
                .min_by_key(|(at, _, _)| *at)
                .map(|(at, k, n)| {
                    format!(
                        "{} {} {} {}",
                        k.role.as_str(),
                        k.key_tag,
                        n.what,
                        roll::rfc3339(at)
                    )
                }),
            waiting: nexts
                .iter()
                .filter(|(_, n)| n.at.is_none())
                .map(|(k, n)| format!("{} {} {}", k.role.as_str(), k.key_tag, n.what))
                .collect(),
        };
        tracing::debug!(zone = %origin, walk_ms, ms = started.elapsed().as_millis() as u64, moved = moved.len(), "key step");
        let mut lines = lifecycle::status_lines(&recs, &t, &facts);
        lines.push(format!(
            "{origin} signatures earliest-expiry {}",
            used.earliest_expiry.map_or("-".to_string(), roll::rfc3339)
        ));
        if let Some(skr) = &skr {
            lines.push(format!(
                "{origin} skr slot {} next-slot {} runs-out {}",
                skr.slot_at(now).map_or("-".into(), |s| roll::rfc3339(s.at)),
                skr.next_after(now).map_or("-".into(), roll::rfc3339),
                skr.runs_out().map_or("-".into(), roll::rfc3339)
            ));
        }
        Ok(lines)
    }
}

impl ZoneLoop {
    /// Checks that the zone's signing keys sign (one small signature
    /// each): for an HSM keystore, `tldd_hsm_up` and a log line when it
    /// goes away or comes back. Run at every refresh tick.
    pub(super) fn probe_signer(&mut self) {
        let (Some(kc), Some(rs)) = (&self.keyctx, &self.resigner) else {
            return;
        };
        if !kc.hsm {
            return;
        }
        let failed = rs
            .keys
            .iter()
            .find_map(|k| crate::signer::SigningKey::sign(k, b"tldd signer probe").err());
        match failed {
            None => self.signer_ok(),
            Some(e) => {
                let g = self.metrics.hsm_up.with_label_values(&[&self.origin_text]);
                if g.get() != 0 {
                    tracing::error!(zone = %self.origin_text, "the HSM does not sign ({e}): the last signed version stays served, updates are answered SERVFAIL and retried by their senders, signatures are refreshed once it is back; watch tldd_signature_earliest_expiry_seconds");
                }
                g.set(0);
            }
        }
    }

    /// A signing call of an HSM zone succeeded: `tldd_hsm_up` 1 (and the
    /// return logged when it was down).
    pub(super) fn signer_ok(&self) {
        if !self.keyctx.as_ref().is_some_and(|k| k.hsm) {
            return;
        }
        let g = self.metrics.hsm_up.with_label_values(&[&self.origin_text]);
        if g.get() == 0 {
            tracing::info!(zone = %self.origin_text, "the HSM signs again: updates and signature refresh resume");
        }
        g.set(1);
    }

    /// With `ksk_submission` servers and a KSK `ready` for the parent:
    /// asks each of them for the zone's DS (a task on the runtime; the
    /// answer comes back as [`super::Event::ParentDs`]). Again every
    /// `parent_ds_ttl` (1 s to 1 h) until all serve it.
    fn poll_parents(&mut self, run: &mut Run, loaded: &lifecycle::Loaded, ds_ttl: u64) {
        let Some(kc) = &self.keyctx else { return };
        if kc.parents.is_empty() || run.ds_poll {
            return;
        }
        let Some((r, k)) = loaded.keys.iter().find(|(r, _)| {
            r.role == Role::Ksk && r.state == KeyState::Ready && r.ds_seen.is_none()
        }) else {
            return;
        };
        let Some(tx) = run.tx.upgrade() else { return };
        run.ds_poll = true;
        let every = Duration::from_secs(ds_ttl.clamp(1, 3600));
        run.keys_at = run.keys_at.map(|at| at.min(Instant::now() + every));
        let (parents, origin, tag) = (kc.parents.clone(), self.origin.clone(), r.key_tag);
        let dnskey = crate::signer::SigningKey::dnskey_rdata(k).to_vec();
        self.rt.spawn(async move {
            let mut result = Ok(());
            for p in parents {
                match crate::xfr::client::rrset(p, &origin, tldd_zone::rdata::DS).await {
                    Ok(set) if set.iter().any(|d| names_key(&origin, &dnskey, d)) => {}
                    Ok(_) => {
                        result = Err(format!("{p} does not serve a DS for key {tag} yet"));
                        break;
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            let _ = tx.send(super::Event::ParentDs { tag, result }).await;
        });
    }

    /// A parent poll's answer: every parent serves the DS of KSK `tag`
    /// (the roll goes on, as after `tldd keys ds-seen`), or why not.
    pub(super) fn parent_ds(&mut self, run: &mut Run, tag: u16, result: Result<(), String>) {
        run.ds_poll = false;
        let Some(kc) = &self.keyctx else { return };
        match result {
            Ok(()) => {
                let cfg = kc.cfg.clone();
                match lifecycle::ds_seen(&cfg, lifecycle::LOOP_OPERATOR, &self.origin_text, tag) {
                    Ok(_) => {
                        tracing::info!(zone = %self.origin_text, key_tag = tag, "every parent server serves the new KSK's DS");
                        let _ = self.key_step(run);
                    }
                    // Already seen (by the operator meanwhile) or retired.
                    Err(e) => tracing::debug!(zone = %self.origin_text, "parent DS: {e:#}"),
                }
            }
            Err(e) => {
                tracing::info!(zone = %self.origin_text, key_tag = tag, "waiting for the parent's DS: {e}")
            }
        }
    }
}

/// Whether DS RDATA `ds` names the key `dnskey` of `origin` (its own
/// digest type, SHA-1 included: the parent's choice).
fn names_key(origin: &[u8], dnskey: &[u8], ds: &[u8]) -> bool {
    ds.len() > 4 && crate::hsm::dnskey::ds_rdata(origin, dnskey, ds[3]).as_deref() == Some(ds)
}

/// The facts a step recorded (tag, audit action): `sigs_gone` or
/// `sigs_complete` set in `after` but not in `before`.
fn marked(
    before: &[crate::keys::state::KeyRecord],
    after: &[crate::keys::state::KeyRecord],
) -> Vec<(u16, &'static str)> {
    let mut out = Vec::new();
    for a in after {
        let b = before.iter().find(|b| b.key_tag == a.key_tag);
        if a.sigs_gone.is_some() && b.is_none_or(|b| b.sigs_gone.is_none()) {
            out.push((a.key_tag, "signatures-gone"));
        }
        if a.sigs_complete.is_some() && b.is_none_or(|b| b.sigs_complete.is_none()) {
            out.push((a.key_tag, "signatures-complete"));
        }
    }
    out
}
