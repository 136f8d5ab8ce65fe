//! The domain lifecycle of the .shop gTLD application (question 27): grace
//! periods and their credits, redemption, pending delete, purge, transfers
//! and auto-renew, and the ledger entries each billable event makes.
//!
//! Rules implemented (defaults from `[srs.policy]`):
//! - Create charges `fees.create` per year and opens the Add grace period
//!   (5 d). Deleting inside it purges the name at once and credits the
//!   create and any renewals made since (overlapping-grace rule 1).
//! - Renew charges per year and opens a Renew grace period (5 d); deleting
//!   inside it credits the renewal and removes its years.
//! - At expiry the registry auto-renews for one year, charges it and opens
//!   the Auto-renew grace period (45 d); deleting inside it credits the
//!   auto-renew (and a renewal made inside it, rule 2); a transfer inside it
//!   credits the losing registrar and cancels that year.
//! - A completed transfer charges the gaining registrar per year, adds the
//!   years (total capped at 10 years from then), clears the old grace
//!   periods and opens the Transfer grace period (5 d). Deleting inside it
//!   credits the transfer unless the domain was renewed after it (rule 3).
//!   Only operations after the latest transfer are ever credited, because a
//!   transfer clears the earlier grace periods.
//! - Transfers are refused for 60 days after create or a transfer; a pending
//!   transfer is approved by the registry after 5 days.
//! - Delete outside the Add grace period starts Redemption (30 d, out of the
//!   zone, only restore allowed), then Pending delete (5 d), then purge.
//! - Restore (RFC 3915 request) is immediate (the application makes
//!   "pending restore" optional) and charges `fees.restore`.
//!
//! Time-driven work ([`run_due`]) follows the store's `due/` index: each
//! domain is indexed at its next transition, and transitions are applied in
//! time order at the instant they fell due (not at the instant the runner
//! happened to run), so running late, or jumping the clock by months with
//! `lifecycle --at`, gives the same result as running continuously.
//!
//! Limits: no excess-deletion (AGP limits) accounting, no bulk transfers.
use crate::clock::{add_years, Ts, DAY};
use crate::config::{FeesConfig, PolicyConfig};
use crate::db::{SResult, Store, StoreError, Txn};
use crate::model::*;
use crate::result::{err, EppResult};

/// Policy and prices, shared by EPP handlers and the lifecycle runner.
#[derive(Debug, Clone)]
pub struct Policy {
    pub p: PolicyConfig,
    pub fees: FeesConfig,
}

fn days(n: u32) -> i64 {
    n as i64 * DAY
}

/// Whether `registrar` may be charged `amount` now.
pub fn can_charge(r: &Registrar, amount: i64) -> bool {
    match r.credit_limit {
        None => true,
        Some(limit) => r.balance - amount >= -limit,
    }
}

/// Checks the credit and records a charge (2104 when over the limit).
pub fn charge(
    t: &mut Txn,
    at: Ts,
    registrar: &str,
    kind: LedgerKind,
    object: &str,
    years: u32,
    amount: i64,
) -> EppResult<()> {
    let r = t
        .registrar(registrar)?
        .ok_or_else(|| err(2400, "registrar record missing"))?;
    if !can_charge(&r, amount) {
        return Err(err(
            2104,
            format!(
                "insufficient credit: charge {amount}, balance {}, credit limit {}",
                r.balance,
                r.credit_limit.unwrap_or(0)
            ),
        ));
    }
    t.ledger(at, registrar, kind, object, years, amount)?;
    Ok(())
}

fn credit(t: &mut Txn, at: Ts, g: &Grace, object: &str) -> SResult<()> {
    let kind = match g.kind {
        GraceKind::Add => LedgerKind::CreditCreate,
        GraceKind::Renew => LedgerKind::CreditRenew,
        GraceKind::AutoRenew => LedgerKind::CreditAutoRenew,
        GraceKind::Transfer => LedgerKind::CreditTransfer,
    };
    t.ledger(at, &g.registrar, kind, object, g.years, -g.amount)
}

impl Policy {
    pub fn grace(
        &self,
        kind: GraceKind,
        start: Ts,
        registrar: &str,
        amount: i64,
        years: u32,
    ) -> Grace {
        let d = match kind {
            GraceKind::Add => self.p.add_grace_days,
            GraceKind::Renew => self.p.renew_grace_days,
            GraceKind::AutoRenew => self.p.auto_renew_grace_days,
            GraceKind::Transfer => self.p.transfer_grace_days,
        };
        Grace {
            kind,
            start,
            until: start + days(d),
            registrar: registrar.to_string(),
            amount,
            years,
        }
    }

    /// End of the 60-day transfer lock after create or the last transfer.
    pub fn transfer_lock_until(&self, d: &Domain) -> Ts {
        d.tr_date.unwrap_or(d.cr_date).max(d.cr_date) + days(self.p.transfer_lock_days)
    }

    /// Expiry a transfer completing at `at` for `years` would give.
    pub fn transfer_ex_date(&self, d: &Domain, at: Ts, years: u32) -> Ts {
        let mut ex = d.ex_date;
        if d.in_grace(GraceKind::AutoRenew, at) {
            ex = add_years(ex, -1);
        }
        add_years(ex, years as i32).min(add_years(at, 10))
    }

    /// Deletes a domain at `now` by its sponsor; Ok(true) if purged at once
    /// (add grace), Ok(false) if it entered redemption.
    pub fn delete(&self, t: &mut Txn, old: &Domain, now: Ts) -> SResult<bool> {
        let mut d = old.clone();
        let running: Vec<Grace> = d.graces_at(now).cloned().collect();
        if running.iter().any(|g| g.kind == GraceKind::Add) {
            for g in &running {
                if matches!(g.kind, GraceKind::Add | GraceKind::Renew) {
                    credit(t, now, g, &d.name)?;
                }
            }
            t.del_domain(old);
            return Ok(true);
        }
        let last_renew = running
            .iter()
            .filter(|g| g.kind == GraceKind::Renew)
            .map(|g| g.start)
            .max();
        for g in &running {
            let credited = match g.kind {
                GraceKind::Renew | GraceKind::AutoRenew => true,
                GraceKind::Transfer => last_renew.is_none_or(|r| r < g.start),
                GraceKind::Add => false,
            };
            if credited {
                credit(t, now, g, &d.name)?;
                if g.kind != GraceKind::Transfer {
                    d.ex_date = add_years(d.ex_date, -(g.years as i32));
                }
            }
        }
        d.grace.clear();
        d.rgp = Rgp::Redemption {
            since: now,
            until: now + days(self.p.redemption_days),
        };
        d.up_date = Some(now);
        d.up_id = Some(d.cl_id.clone());
        t.put_domain(Some(old), &d);
        Ok(false)
    }

    /// Completes the pending transfer of `old` at `at`.
    pub fn complete_transfer(
        &self,
        t: &mut Txn,
        old: &Domain,
        at: Ts,
        status: TrStatus,
    ) -> SResult<Domain> {
        let mut d = old.clone();
        let Some(mut tr) = d.transfer.clone().filter(|x| x.status == TrStatus::Pending) else {
            return Err(StoreError(format!("{}: no pending transfer", d.name)));
        };
        for g in d.graces_at(at).filter(|g| g.kind == GraceKind::AutoRenew) {
            credit(t, at, g, &d.name)?;
        }
        d.ex_date = self.transfer_ex_date(&d, at, tr.years);
        let amount = self.fees.transfer * tr.years as i64;
        t.ledger(
            at,
            &tr.re_id,
            LedgerKind::Transfer,
            &d.name,
            tr.years,
            amount,
        )?;
        d.grace = vec![self.grace(GraceKind::Transfer, at, &tr.re_id, amount, tr.years)];
        d.cl_id = tr.re_id.clone();
        d.tr_date = Some(at);
        // a transfer modifies the object (RFC 5731 upDate): EPP info, RDAP
        // `last changed` and Whois `Updated Date` all show it
        d.up_date = Some(at);
        d.up_id = Some(tr.re_id.clone());
        d.auth_pw = random_auth();
        tr.status = status;
        tr.ac_date = at;
        tr.ex_date = d.ex_date;
        d.transfer = Some(tr.clone());
        for h in t.subordinates(&d.name)? {
            if let Some(host) = t.host(&h)? {
                let mut nh = host.clone();
                nh.cl_id = tr.re_id.clone();
                nh.tr_date = Some(at);
                nh.up_date = Some(at);
                nh.up_id = Some(tr.re_id.clone());
                t.put_host(Some(&host), &nh);
            }
        }
        let payload = Some(PollPayload::DomainTransfer {
            name: d.name.clone(),
            transfer: tr.clone(),
        });
        let text = format!("Transfer of {} {}", d.name, tr.status.as_str());
        t.add_poll_at(&tr.re_id, &text, payload.clone(), at)?;
        if status == TrStatus::ServerApproved {
            t.add_poll_at(&tr.ac_id, &text, payload, at)?;
        }
        t.put_domain(Some(old), &d);
        Ok(d)
    }

    /// Applies every transition of one domain due at or before `at`.
    /// Returns the number of transitions applied.
    pub fn apply_due(&self, t: &mut Txn, name: &str, at: Ts) -> SResult<usize> {
        let mut steps = 0;
        loop {
            let Some(d) = t.domain(name)? else {
                return Ok(steps);
            };
            let Some(due) = d.next_due() else {
                return Ok(steps);
            };
            if due > at {
                return Ok(steps);
            }
            steps += 1;
            if steps > 10_000 {
                return Err(StoreError(format!("{name}: lifecycle does not converge")));
            }
            self.step(t, d, due)?;
        }
    }

    fn step(&self, t: &mut Txn, old: Domain, now: Ts) -> SResult<()> {
        let mut d = old.clone();
        match d.rgp {
            Rgp::Redemption { until, .. } if until <= now => {
                d.rgp = Rgp::PendingDelete {
                    until: until + days(self.p.pending_delete_days),
                };
                t.put_domain(Some(&old), &d);
                return Ok(());
            }
            Rgp::PendingDelete { until } if until <= now => {
                for h in t.subordinates(&d.name)? {
                    if let Some(host) = t.host(&h)? {
                        t.del_host(&host);
                    }
                }
                t.add_poll_at(
                    &d.cl_id,
                    &format!("Domain {} purged", d.name),
                    Some(PollPayload::Domain {
                        name: d.name.clone(),
                    }),
                    until,
                )?;
                t.del_domain(&old);
                return Ok(());
            }
            Rgp::Redemption { .. } | Rgp::PendingDelete { .. } => return Ok(()),
            Rgp::Active => {}
        }
        d.grace.retain(|g| g.until > now);
        if d.pending_transfer().is_some_and(|tr| tr.ac_date <= now) {
            t.put_domain(Some(&old), &d);
            let cur = d.clone();
            self.complete_transfer(t, &cur, now, TrStatus::ServerApproved)?;
            return Ok(());
        }
        if d.ex_date <= now {
            let amount = self.fees.renew;
            t.ledger(now, &d.cl_id, LedgerKind::AutoRenew, &d.name, 1, amount)?;
            d.grace
                .push(self.grace(GraceKind::AutoRenew, d.ex_date, &d.cl_id, amount, 1));
            let renewed_at = d.ex_date;
            d.ex_date = add_years(d.ex_date, 1);
            t.add_poll_at(
                &d.cl_id,
                &format!(
                    "Domain {} auto-renewed until {}",
                    d.name,
                    crate::clock::fmt(d.ex_date)
                ),
                Some(PollPayload::Domain {
                    name: d.name.clone(),
                }),
                renewed_at,
            )?;
        }
        t.put_domain(Some(&old), &d);
        Ok(())
    }
}

/// What one lifecycle run did.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunReport {
    pub at: Ts,
    pub domains: usize,
    pub transitions: usize,
}

/// Runs every transition due at or before `at`, one transaction per domain.
pub fn run_due(store: &Store, policy: &Policy, at: Ts) -> SResult<RunReport> {
    let mut rep = RunReport {
        at,
        ..Default::default()
    };
    loop {
        let batch = store.due(at, 512)?;
        if batch.is_empty() {
            return Ok(rep);
        }
        for (ts, name) in batch {
            let n = store.write(|t| {
                let n = policy.apply_due(t, &name, at)?;
                if n == 0 {
                    // an index entry that no longer matches its domain
                    t.drop_due(ts, &name);
                }
                Ok::<_, StoreError>(n)
            })?;
            rep.transitions += n;
            if n > 0 {
                rep.domains += 1;
            }
        }
    }
}

/// A random authInfo password (16 characters from a 62-letter alphabet).
pub fn random_auth() -> String {
    use rand::Rng;
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| A[rng.random_range(0..A.len())] as char)
        .collect()
}
