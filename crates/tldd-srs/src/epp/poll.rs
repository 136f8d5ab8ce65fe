//! Poll (RFC 5730 section 2.9.2.3): `op="req"` returns the registrar's
//! oldest message (1301) or 1300 when the queue is empty; `op="ack"`
//! removes the message named by `msgID` (2303 if it is not in the caller's
//! queue) and answers `<msgQ count=".." id=".."/>` with the number of
//! messages left and the id of the message it removed, as the RFC's
//! example does — also after the last one (`count="0"`): the schema
//! requires `id` on every `<msgQ>`. Transfer messages carry the domain
//! trnData. The `op` and `msgID` are decoded by [`super::command`].
use super::response::{MsgQ, Response};
use super::transfer::trn_data;
use super::Ctx;
use crate::model::PollPayload;
use crate::result::{err, EppResult};

/// `<poll op="req"/>`.
pub fn req(ctx: &Ctx) -> EppResult<Response> {
    let msgs = ctx.store.read().polls(ctx.clid)?;
    let Some(m) = msgs.first() else {
        return Ok(Response::code(1300));
    };
    let mut r = Response::code(1301);
    r.msgq = Some(MsgQ {
        count: msgs.len(),
        id: m.id,
        q_date: Some(m.q_date),
        msg: Some(m.msg.clone()),
    });
    if let Some(PollPayload::DomainTransfer { name, transfer }) = &m.payload {
        r.res_data = Some(trn_data(name, transfer));
    }
    Ok(r)
}

/// `<poll op="ack" msgID=".."/>`.
pub fn ack(ctx: &Ctx, id: u64) -> EppResult<Response> {
    let left = ctx.store.write(|t| -> EppResult<usize> {
        let msgs = t.polls(ctx.clid)?;
        if !msgs.iter().any(|m| m.id == id) {
            return Err(err(2303, format!("message {id} is not in your queue")));
        }
        t.del_poll(ctx.clid, id);
        Ok(msgs.len() - 1)
    })?;
    let mut r = Response::ok();
    r.msgq = Some(MsgQ {
        count: left,
        id,
        ..Default::default()
    });
    Ok(r)
}
