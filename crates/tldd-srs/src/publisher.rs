//! The publisher: sends queued DNS changes to the zone's primary as RFC 2136
//! updates signed with TSIG, oldest first, and deletes each from the queue
//! only after the server acknowledged it (NOERROR with a valid TSIG).
//!
//! The queue (`pubq/` in the store) is written in the same atomic batch as
//! the EPP change that caused it, so an acknowledged EPP command's DNS
//! change is durable even if the SRS dies before publishing it; on restart
//! the publisher simply resumes. EPP replies never wait for publication.
//!
//! Consecutive operations are merged into one UPDATE message of up to
//! `[srs.dns] batch` owner names; when two merged operations touch the same
//! name the later one wins, which is exactly what applying them in order
//! would give, because each operation carries the complete wanted state of
//! its names. On failure (connection refused, timeout, bad TSIG, SERVFAIL)
//! it retries with exponential backoff (0.2 s doubling to 10 s) for as long
//! as it takes, logging each failure and counting it in the metrics
//! (`result="error"`).
//!
//! A *refusal* (a signed answer REFUSED, FORMERR, NOTZONE, ...) is
//! different: the same message will be refused again. A merged message
//! that is refused is split: operations are then sent one at a time, so
//! every change queued before the culprit is published. An operation
//! refused on its own blocks the queue (order matters: later operations may
//! depend on it), and that is made loud: an ERROR log naming the operation
//! and its names, `result="refused"` in the metrics, the gauge
//! `tldd_srs_publisher_blocked` at 1, and `tldd srs status` shows it. It is
//! retried every 10 s at most, so fixing the cause on the server (its log
//! names the reason) unblocks it without restarting the SRS;
//! `tldd srs publisher retry` retries at once, and `tldd srs publisher
//! drop --id N` removes a change the server will never take (then
//! `reconcile` repairs the names once it would). The SRS only
//! queues changes a TLD zone accepts (see `Txn::owner_set`), so a refusal
//! means a bug or a server configured differently from the SRS.
use crate::db::Store;
use crate::dns::{send_update, update_message, SendError};
use crate::metrics::Metrics;
use crate::model::{OwnerSet, PubOp};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tldd_tsig::Key as TsigKey;

pub struct Publisher {
    pub store: Arc<Store>,
    pub server: SocketAddr,
    pub key: Arc<TsigKey>,
    pub ttl: u32,
    pub timeout: Duration,
    pub batch: usize,
    pub metrics: Arc<Metrics>,
}

/// Merges operations in order; a later state of a name replaces an earlier one.
pub fn merge(ops: &[PubOp]) -> Vec<OwnerSet> {
    let mut out: Vec<OwnerSet> = Vec::new();
    for op in ops {
        for o in &op.owners {
            match out.iter_mut().find(|x| x.name == o.name) {
                Some(slot) => *slot = o.clone(),
                None => out.push(o.clone()),
            }
        }
    }
    out
}

impl Publisher {
    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Store) -> T + Send + 'static) -> T {
        let s = self.store.clone();
        tokio::task::spawn_blocking(move || f(&s))
            .await
            .expect("store task")
    }

    fn update_gauges(&self, ops: &[PubOp]) {
        self.metrics.queue_depth.set(self.store.queue_len() as i64);
        let lag = ops
            .first()
            .map(|o| (self.store.clock.now() - o.queued).max(0) as f64)
            .unwrap_or(0.0);
        self.metrics.queue_lag.set(lag);
    }

    /// Sends everything queued; returns how many operations were acknowledged.
    pub async fn drain(&self) -> Result<usize, String> {
        self.drain_ops().await.map_err(|e| e.to_string())
    }

    async fn drain_ops(&self) -> Result<usize, SendError> {
        let mut done = 0;
        // after a refused merged message: one operation per message until
        // the refused one has been found (and is no longer at the head)
        let mut isolate_until: Option<u64> = None;
        // a head refused before is tried alone first
        let mut isolate_head = self
            .store
            .publish_blocked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        loop {
            let n = self.batch;
            let ops = self
                .blocking(move |s| s.queue_peek(n))
                .await
                .map_err(|e| SendError::Transient(e.to_string()))?;
            self.update_gauges(&ops);
            if ops.is_empty() {
                return Ok(done);
            }
            // take whole operations while the message stays within `batch` names
            let mut take = 0;
            let mut names = 0;
            for op in &ops {
                let alone = isolate_until.is_some() || isolate_head;
                if take > 0 && (names + op.owners.len() > self.batch || alone) {
                    break;
                }
                names += op.owners.len();
                take += 1;
            }
            let chunk = &ops[..take];
            let owners = merge(chunk);
            let zone = self.store.tld().to_string();
            let msg = match update_message(&zone, &owners, self.ttl) {
                Ok(m) => m,
                Err(e) => {
                    // bad data in the queue (the store validates, so a bug):
                    // as loud as a refusal
                    let what = format!("operation {} cannot be encoded: {e}", chunk[0].id);
                    if self.set_blocked(Some(what.clone())) {
                        tracing::error!("{what}; the publisher queue is blocked behind it");
                    }
                    return Err(SendError::Transient(e));
                }
            };
            match send_update(self.server, &self.key, msg, self.timeout).await {
                Ok(()) => {
                    self.metrics.updates.with_label_values(&["ok"]).inc();
                    let ids: Vec<u64> = chunk.iter().map(|o| o.id).collect();
                    tracing::debug!(
                        ops = ids.len(),
                        names = owners.len(),
                        "DNS update acknowledged"
                    );
                    if isolate_until.is_some_and(|last| ids.contains(&last)) {
                        isolate_until = None;
                    }
                    self.blocking(move |s| s.queue_remove(&ids))
                        .await
                        .map_err(|e| SendError::Transient(e.to_string()))?;
                    let _ = self.set_blocked(None);
                    isolate_head = false;
                    done += chunk.len();
                }
                Err(SendError::Refused(rc, _)) if chunk.len() > 1 => {
                    self.metrics.updates.with_label_values(&["refused"]).inc();
                    tracing::warn!(
                        ops = chunk.len(),
                        rcode = %rc,
                        "merged DNS update refused; sending its operations one at a time"
                    );
                    isolate_until = chunk.last().map(|o| o.id);
                }
                Err(SendError::Refused(rc, why)) => {
                    self.metrics.updates.with_label_values(&["refused"]).inc();
                    let op = &chunk[0];
                    let names: Vec<&str> = op.owners.iter().map(|o| o.name.as_str()).collect();
                    let what = format!(
                        "operation {} ({}) refused by {}: {}",
                        op.id,
                        names.join(" "),
                        self.server,
                        SendError::Refused(rc, why.clone())
                    );
                    if self.set_blocked(Some(what.clone())) {
                        tracing::error!(
                            op = op.id,
                            names = %names.join(" "),
                            server = %self.server,
                            rcode = %rc,
                            reason = why.as_deref().unwrap_or("none given (see the server's log)"),
                            "DNS server refused a queued change; the publisher queue is blocked behind it \
                             (it is retried)"
                        );
                    } else {
                        tracing::warn!("still blocked: {what}");
                    }
                    return Err(SendError::Refused(rc, why));
                }
                Err(e) => {
                    self.metrics.updates.with_label_values(&["error"]).inc();
                    return Err(e);
                }
            }
        }
    }

    /// Records (or clears) the blocked state; true when newly blocked.
    fn set_blocked(&self, what: Option<String>) -> bool {
        self.metrics.blocked.set(i64::from(what.is_some()));
        let mut b = self
            .store
            .publish_blocked
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match (what, b.as_ref()) {
            (None, _) => {
                *b = None;
                false
            }
            // keep the first time it was seen
            (Some(w), Some(old)) if old.starts_with(&w) => false,
            (Some(w), _) => {
                let since = crate::clock::fmt(self.store.clock.now());
                *b = Some(format!("{w} (since {since})"));
                true
            }
        }
    }

    /// Publishes forever; woken by commits, retrying with backoff.
    pub async fn run(self) {
        let notify = self.store.publish_notify.clone();
        let retry = self.store.publish_retry.clone();
        let mut backoff = Duration::from_millis(200);
        loop {
            let woken = notify.notified();
            let retry_now = retry.notified();
            match self.drain_ops().await {
                Ok(_) => {
                    backoff = Duration::from_millis(200);
                    tokio::select! {
                        _ = woken => {}
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    }
                }
                Err(e) => {
                    if matches!(e, SendError::Transient(_)) {
                        tracing::warn!(server = %self.server, error = %e, retry_in = ?backoff, "DNS update failed");
                    }
                    tokio::select! {
                        _ = retry_now => backoff = Duration::from_millis(200),
                        _ = tokio::time::sleep(backoff) => {
                            backoff = (backoff * 2).min(Duration::from_secs(10));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: u64, sets: &[(&str, &[&str])]) -> PubOp {
        PubOp {
            id,
            queued: 0,
            owners: sets
                .iter()
                .map(|(n, ns)| OwnerSet {
                    name: n.to_string(),
                    ns: ns.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn later_state_of_a_name_wins() {
        let m = merge(&[
            op(1, &[("a.shop", &["ns1.x.net"]), ("b.shop", &["ns1.x.net"])]),
            op(2, &[("a.shop", &[])]),
        ]);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].name, "a.shop");
        assert!(m[0].ns.is_empty());
        assert_eq!(m[1].ns, vec!["ns1.x.net"]);
    }
}
