//! Domain transfers (RFC 5731 section 3.2.4 and 3.1.3): request, query,
//! approve, reject, cancel.
//!
//! A request needs the domain's authInfo (2202 otherwise), is refused to
//! the sponsor itself and within the transfer lock after create or the last
//! transfer (2106), while a transfer is already pending (2300), for a
//! domain pending delete or with a transfer-prohibited status (2304), and
//! when the gaining registrar lacks the credit (2104). It answers 1001 and
//! queues a poll message for the losing registrar; the registry approves it
//! on its own after `pending_transfer_days` (see [`crate::lifecycle`]).
//! Approve/reject are for the losing registrar, cancel for the gaining one.
//! The command arrives decoded ([`super::command::DomainTransfer`]).
use super::command::{DomainTransfer, TransferOp};
use super::response::Response;
use super::xml::{esc, NS_DOMAIN};
use super::Ctx;
use crate::clock::{fmt, DAY};
use crate::lifecycle::can_charge;
use crate::model::*;
use crate::result::{err, refuse_if_prohibited, EppResult};

pub fn trn_data(name: &str, tr: &Transfer) -> String {
    format!(
        "<domain:trnData xmlns:domain=\"{NS_DOMAIN}\"><domain:name>{}</domain:name>\
<domain:trStatus>{}</domain:trStatus><domain:reID>{}</domain:reID><domain:reDate>{}</domain:reDate>\
<domain:acID>{}</domain:acID><domain:acDate>{}</domain:acDate><domain:exDate>{}</domain:exDate></domain:trnData>",
        esc(name),
        tr.status.as_str(),
        esc(&tr.re_id),
        fmt(tr.re_date),
        esc(&tr.ac_id),
        fmt(tr.ac_date),
        fmt(tr.ex_date)
    )
}

pub fn transfer(ctx: &Ctx, c: DomainTransfer) -> EppResult<Response> {
    let (name, pw) = (c.name.as_str(), c.auth_pw);
    match c.op {
        TransferOp::Query => query(ctx, name, pw),
        TransferOp::Request { years } => request(ctx, name, pw, years),
        op @ (TransferOp::Approve | TransferOp::Reject | TransferOp::Cancel) => {
            decide(ctx, name, op)
        }
    }
}

fn query(ctx: &Ctx, name: &str, pw: Option<String>) -> EppResult<Response> {
    let r = ctx.store.read();
    let d = r
        .domain(name)?
        .ok_or_else(|| err(2303, format!("domain {name} does not exist")))?;
    let tr = d
        .transfer
        .clone()
        .ok_or_else(|| err(2301, format!("{name} has no transfer to report")))?;
    let allowed = d.cl_id == ctx.clid
        || tr.re_id == ctx.clid
        || tr.ac_id == ctx.clid
        || pw.as_deref() == Some(d.auth_pw.as_str());
    if !allowed {
        return Err(err(2201, format!("not a party to the transfer of {name}")));
    }
    Ok(Response::with_data(1000, trn_data(name, &tr)))
}

fn request(ctx: &Ctx, name: &str, pw: Option<String>, years: u32) -> EppResult<Response> {
    if years < 1 || years > ctx.policy.p.max_years {
        return Err(err(
            2004,
            format!(
                "transfer period must be 1..{} years",
                ctx.policy.p.max_years
            ),
        ));
    }
    let tr = ctx.store.write(|t| -> EppResult<Transfer> {
        let old = t
            .domain(name)?
            .ok_or_else(|| err(2303, format!("domain {name} does not exist")))?;
        let now = t.now();
        if old.cl_id == ctx.clid {
            return Err(err(2106, format!("{name} is already sponsored by you")));
        }
        let pw = pw.ok_or_else(|| err(2202, "authInfo is required for a transfer request"))?;
        if pw != old.auth_pw {
            return Err(err(2202, "authInfo does not match"));
        }
        if old.pending_transfer().is_some() {
            return Err(err(2300, format!("{name} already has a pending transfer")));
        }
        if old.rgp != Rgp::Active {
            return Err(err(2304, format!("{name} is pending delete")));
        }
        refuse_if_prohibited(&old.statuses, "Transfer", name)?;
        let lock = ctx.policy.transfer_lock_until(&old);
        if now < lock {
            return Err(err(
                2106,
                format!(
                    "{name} cannot be transferred until {} (60 days after create or transfer)",
                    fmt(lock)
                ),
            ));
        }
        let me = t
            .registrar(ctx.clid)?
            .ok_or_else(|| err(2400, "registrar record missing"))?;
        if !can_charge(&me, ctx.policy.fees.transfer * years as i64) {
            return Err(err(2104, "insufficient credit for the transfer"));
        }
        let ac_date = now + ctx.policy.p.pending_transfer_days as i64 * DAY;
        let tr = Transfer {
            status: TrStatus::Pending,
            re_id: ctx.clid.to_string(),
            re_date: now,
            ac_id: old.cl_id.clone(),
            ac_date,
            years,
            ex_date: ctx.policy.transfer_ex_date(&old, ac_date, years),
        };
        let mut d = old.clone();
        d.transfer = Some(tr.clone());
        t.put_domain(Some(&old), &d);
        t.add_poll(
            &old.cl_id,
            &format!("Transfer of {name} requested by {}", ctx.clid),
            Some(PollPayload::DomainTransfer {
                name: name.to_string(),
                transfer: tr.clone(),
            }),
        )?;
        Ok(tr)
    })?;
    Ok(Response::with_data(1001, trn_data(name, &tr)))
}

fn decide(ctx: &Ctx, name: &str, op: TransferOp) -> EppResult<Response> {
    let tr = ctx.store.write(|t| -> EppResult<Transfer> {
        let old = t
            .domain(name)?
            .ok_or_else(|| err(2303, format!("domain {name} does not exist")))?;
        let now = t.now();
        let pending = old
            .pending_transfer()
            .cloned()
            .ok_or_else(|| err(2301, format!("{name} has no pending transfer")))?;
        let party = if op == TransferOp::Cancel {
            &pending.re_id
        } else {
            &pending.ac_id
        };
        if party != ctx.clid {
            let who = if op == TransferOp::Cancel {
                "the requesting"
            } else {
                "the sponsoring"
            };
            return Err(err(
                2201,
                format!("only {who} registrar may {} this transfer", op.as_str()),
            ));
        }
        if op == TransferOp::Approve {
            let d = ctx
                .policy
                .complete_transfer(t, &old, now, TrStatus::ClientApproved)?;
            return d.transfer.ok_or_else(|| err(2400, "transfer vanished"));
        }
        let mut tr = pending;
        tr.status = if op == TransferOp::Reject {
            TrStatus::ClientRejected
        } else {
            TrStatus::ClientCancelled
        };
        tr.ac_date = now;
        tr.ex_date = old.ex_date;
        let mut d = old.clone();
        d.transfer = Some(tr.clone());
        t.put_domain(Some(&old), &d);
        let notify = if op == TransferOp::Reject {
            &tr.re_id
        } else {
            &tr.ac_id
        };
        t.add_poll(
            notify,
            &format!("Transfer of {name} {}", tr.status.as_str()),
            Some(PollPayload::DomainTransfer {
                name: name.to_string(),
                transfer: tr.clone(),
            }),
        )?;
        Ok(tr)
    })?;
    Ok(Response::with_data(1000, trn_data(name, &tr)))
}
