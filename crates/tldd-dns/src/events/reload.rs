//! A primary zone's file read again (`tldd ctl zone-reload`, and
//! `zonefile_load = "difference"` at start) and a full re-signing on
//! command (`tldd ctl zone-sign`), both as versions the loop makes like
//! any other.
//!
//! # zone-reload
//! The file's content is compared with the served version
//! ([`tldd_zone::compare::difference`]); what differs, with a new SOA (the
//! file's SOA fields, the serial moved on by `serial_policy`, or the
//! file's when that is newer), is one new version: signed and verified
//! like an update batch, journaled, sent by IXFR and NOTIFY. On a signed
//! zone the signer's own records (DNSKEY, RRSIG, NSEC, NSEC3, NSEC3PARAM,
//! CDS, CDNSKEY) are the signer's, not the file's, and are not compared.
//! `--force` replaces the zone by the file instead (signed whole when the
//! zone is signed): the journal restarts, so secondaries transfer the
//! whole zone (AXFR).
//!
//! # zone-sign
//! Every RRset signed again now and the NSEC3 chain rebuilt (as at load),
//! verified whole, served as a new serial that replaces the zone (AXFR to
//! secondaries). The loop is busy meanwhile (about 8 s for a million
//! delegations); updates wait in its queue.
//!
//! # Limits
//! An unsigned zone's RRSIGs (a pre-signed file) are not compared by
//! `zone-reload`: use `--force` for a pre-signed file.
use super::{Run, ZoneLoop};
use tldd_zone::diff::{soa_rec, with_serial, Diff};
use tldd_zone::rdata;
use tldd_zone::Zone;

/// Types a signing zone's file does not decide.
fn signer_type(t: u16) -> bool {
    matches!(
        t,
        rdata::RRSIG
            | rdata::NSEC
            | rdata::DNSKEY
            | rdata::NSEC3
            | rdata::NSEC3PARAM
            | rdata::CDS
            | rdata::CDNSKEY
    )
}

impl ZoneLoop {
    fn signing(&self) -> bool {
        self.resigner.is_some()
    }

    /// The serial after `cur` for a file whose serial is `file`.
    fn next_serial(&self, cur: u32, file: u32) -> u32 {
        let next = self.policy.next(cur, tldd_tsig::now());
        if tldd_zone::serial::serial_lt(next, file) {
            file
        } else {
            next
        }
    }

    /// `zone-reload`: the file's changes as one version (module docs).
    pub(super) fn reload_file(
        &mut self,
        run: &mut Run,
        file: Zone,
        force: bool,
    ) -> Result<String, String> {
        if self.primary.is_some() {
            return Err(
                "a secondary zone comes from its primary: zone-refresh or zone-retransfer".into(),
            );
        }
        let Some(state) = &self.state else {
            return Err("nothing served yet".into());
        };
        let cur = state.zone.serial();
        let to = self.next_serial(cur, file.serial());
        if force {
            return self.replace_with(run, file, to, "replaced by the zone file");
        }
        let skip = self.signing();
        let (removed, added) =
            tldd_zone::compare::difference(&state.zone, &file, |t| skip && signer_type(t));
        let (Some(old_soa), Some(file_soa)) = (soa_rec(&state.zone), soa_rec(&file)) else {
            return Err("no SOA in the served zone or in the file".into());
        };
        let same_soa = with_serial(&old_soa.rdata, 0) == with_serial(&file_soa.rdata, 0)
            && old_soa.ttl == file_soa.ttl;
        if removed.is_empty() && added.is_empty() && same_soa {
            return Ok(format!(
                "unchanged: the file has what is served (serial {cur})"
            ));
        }
        let rd = with_serial(&file_soa.rdata, to).ok_or("the file's SOA is malformed")?;
        let mut new_soa = file_soa.clone();
        new_soa.rdata = rd.into();
        let (nr, na) = (removed.len(), added.len());
        let mut diff = Diff {
            from: cur,
            to,
            removed: vec![old_soa],
            added: vec![new_soa],
        };
        diff.removed.extend(removed);
        diff.added.extend(added);
        let serial = self
            .commit(run, &diff, true)
            .map_err(|e| format!("{e:#}"))?;
        tracing::info!(zone = %self.origin_text, serial, removed = nr, added = na, "zone file changes applied as a new version");
        Ok(format!(
            "serial {serial}: {nr} records removed, {na} added from the file (journaled, IXFR)"
        ))
    }

    /// `zone-sign`: everything signed again (module docs).
    pub(super) fn sign_all(&mut self, run: &mut Run) -> Result<String, String> {
        if !self.signing() {
            return Err("not a signed primary zone (no [zone.dnssec], or a secondary)".into());
        }
        let Some(state) = &self.state else {
            return Err("nothing served yet".into());
        };
        let zone = state.zone.clone();
        let cur = zone.serial();
        let to = self.policy.next(cur, tldd_tsig::now());
        self.replace_with(run, zone, to, "signed again whole")
    }

    /// Replaces the zone by `zone` at serial `to`, signed whole first
    /// when the zone signs, verified whole.
    fn replace_with(
        &mut self,
        run: &mut Run,
        mut zone: Zone,
        to: u32,
        what: &str,
    ) -> Result<String, String> {
        tldd_zone::diff::set_serial(&mut zone, to).ok_or("no valid SOA")?;
        if self.signing() {
            let started = std::time::Instant::now();
            zone = self.sign_whole(zone).inspect_err(|_| {
                self.metrics
                    .verify_failures
                    .with_label_values(&[&self.origin_text])
                    .inc();
            })?;
            self.signer_ok();
            tracing::info!(zone = %self.origin_text, serial = to, seconds = format!("{:.2}", started.elapsed().as_secs_f64()), "zone signed whole and verified");
        }
        let serial = self.replace(run, zone)?;
        tracing::info!(zone = %self.origin_text, serial, "{what}: a new version (secondaries transfer it whole)");
        Ok(format!("serial {serial}: {what} (journal restarted: AXFR)"))
    }

    fn sign_whole(&self, mut zone: Zone) -> Result<Zone, String> {
        let Some(kc) = &self.keyctx else {
            return Err("no key context".into());
        };
        let cfg = &kc.cfg;
        let dnssec = cfg
            .zone
            .iter()
            .find(|z| z.origin() == self.origin_text)
            .and_then(|z| z.dnssec.as_ref())
            .ok_or("the zone has no [zone.dnssec]")?;
        let opts = crate::signer::SignOptions::from_config(dnssec).map_err(|e| e.to_string())?;
        let (_, unpublished) = crate::signer::sign_as_keys_say(
            cfg,
            &self.origin_text,
            &mut zone,
            dnssec,
            &opts,
            &|_| {},
        )
        .map_err(|e| format!("{e:#}"))?;
        let now = crate::signer::sign::unix_now() as u32;
        crate::signer::verify_sampled_with(&zone, now, 1, &unpublished)
            .map_err(|e| format!("the signed version does not verify (not served): {e}"))?;
        Ok(zone)
    }
}
