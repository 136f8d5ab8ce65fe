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
//! its names. On failure (connection refused, timeout, bad TSIG, REFUSED,
//! ...) it retries with exponential backoff (0.2 s doubling to 10 s) for as
//! long as it takes, logging each failure and counting it in the metrics.
use crate::srs::dns::{send_update, update_message};
use crate::srs::metrics::Metrics;
use crate::srs::model::{OwnerSet, PubOp};
use crate::srs::store::Store;
use hickory_proto::rr::TSigner;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct Publisher {
    pub store: Arc<Store>,
    pub server: SocketAddr,
    pub key: TSigner,
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
        let mut done = 0;
        loop {
            let n = self.batch;
            let ops = self
                .blocking(move |s| s.queue_peek(n))
                .await
                .map_err(|e| e.to_string())?;
            self.update_gauges(&ops);
            if ops.is_empty() {
                return Ok(done);
            }
            // take whole operations while the message stays within `batch` names
            let mut take = 0;
            let mut names = 0;
            for op in &ops {
                if take > 0 && names + op.owners.len() > self.batch {
                    break;
                }
                names += op.owners.len();
                take += 1;
            }
            let chunk = &ops[..take];
            let owners = merge(chunk);
            let zone = self.store.tld().to_string();
            let msg = update_message(&zone, &owners, self.ttl)?;
            match send_update(self.server, &self.key, msg, self.timeout).await {
                Ok(()) => {
                    self.metrics.updates.with_label_values(&["ok"]).inc();
                    let ids: Vec<u64> = chunk.iter().map(|o| o.id).collect();
                    tracing::debug!(
                        ops = ids.len(),
                        names = owners.len(),
                        "DNS update acknowledged"
                    );
                    self.blocking(move |s| s.queue_remove(&ids))
                        .await
                        .map_err(|e| e.to_string())?;
                    done += chunk.len();
                }
                Err(e) => {
                    self.metrics.updates.with_label_values(&["error"]).inc();
                    return Err(e);
                }
            }
        }
    }

    /// Publishes forever; woken by commits, retrying with backoff.
    pub async fn run(self) {
        let notify = self.store.publish_notify.clone();
        let mut backoff = Duration::from_millis(200);
        loop {
            let woken = notify.notified();
            match self.drain().await {
                Ok(_) => {
                    backoff = Duration::from_millis(200);
                    tokio::select! {
                        _ = woken => {}
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(server = %self.server, error = %e, retry_in = ?backoff, "DNS update failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
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
