//! Operator commands (`registrar add|update|list`, `lifecycle`, `reconcile`,
//! `ledger`, `status`) and how they reach the store.
//!
//! sled allows one process per database, so while `tldd srs serve` runs it
//! listens on a Unix socket, `<data_dir>/control.sock` (mode 0600: only the
//! service account can use it), and the CLI sends its request there as one
//! JSON line and prints the one-line JSON answer's text. When no server is
//! running the CLI opens the store itself and runs the same code
//! ([`App::admin`]), publishing DNS changes before it exits. Either way an
//! operator uses the same commands.
use crate::clock::{fmt, Ts};
use crate::config::Loaded;
use crate::db::Store;
use crate::lifecycle::{run_due, Policy};
use crate::metrics::Metrics;
use crate::publisher::Publisher;
use crate::registrar::{self, RegistrarSpec};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tldd_tsig::Key as TsigKey;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AdminRequest {
    RegistrarAdd(RegistrarSpec),
    RegistrarUpdate(RegistrarSpec),
    RegistrarList,
    Lifecycle {
        at: Option<Ts>,
    },
    Reconcile {
        dry_run: bool,
    },
    Ledger {
        registrar: Option<String>,
    },
    Status,
    /// The oldest queued DNS changes.
    PublisherQueue {
        limit: usize,
    },
    /// Removes the queued change `id` (one the DNS server refuses for good).
    PublisherDrop {
        id: u64,
    },
    /// Sends the queue now instead of at the next retry.
    PublisherRetry,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminReply {
    pub ok: bool,
    pub text: String,
}

/// An opened SRS: configuration, store, policy.
pub struct App {
    pub cfg: Loaded,
    pub store: Arc<Store>,
    pub policy: Policy,
    pub metrics: Arc<Metrics>,
    pub key: Arc<TsigKey>,
    /// Signs the AXFR of `reconcile` (`[srs.dns] transfer_key`).
    pub xfr_key: Arc<TsigKey>,
}

impl App {
    pub fn open(cfg: Loaded) -> anyhow::Result<App> {
        let data_dir = cfg.resolve(&cfg.srs.data_dir);
        let store = Store::open(&data_dir, &cfg.tld, &cfg.roid_suffix())?;
        let key = crate::dns::signer(&cfg.dns_key).map_err(|e| anyhow::anyhow!(e))?;
        let xfr_key = crate::dns::signer(&cfg.xfr_key).map_err(|e| anyhow::anyhow!(e))?;
        Ok(App {
            policy: Policy {
                p: cfg.srs.policy.clone(),
                fees: cfg.srs.fees.clone(),
            },
            store: Arc::new(store),
            metrics: Arc::new(Metrics::new()),
            key,
            xfr_key,
            cfg,
        })
    }

    pub fn control_path(cfg: &Loaded) -> PathBuf {
        cfg.resolve(&cfg.srs.data_dir).join("control.sock")
    }

    pub fn publisher(&self) -> Publisher {
        Publisher {
            store: self.store.clone(),
            server: self.cfg.srs.dns.server,
            key: self.key.clone(),
            ttl: self.cfg.srs.dns.ttl,
            timeout: Duration::from_secs(self.cfg.srs.dns.timeout),
            batch: self.cfg.srs.dns.batch,
            metrics: self.metrics.clone(),
        }
    }

    /// Waits until the publisher queue is empty (server mode), or publishes
    /// it here (`local`). Returns a line to append to the answer.
    async fn settle(&self, local: bool) -> String {
        if local {
            return match self.publisher().drain().await {
                Ok(n) => format!("published {n} DNS change(s)"),
                Err(e) => format!(
                    "WARNING: {} DNS change(s) not yet published ({e}); they stay queued for the server",
                    self.store.queue_len()
                ),
            };
        }
        let deadline = Instant::now() + Duration::from_secs(self.cfg.srs.dns.timeout * 2 + 5);
        while Instant::now() < deadline {
            if self.store.queue_len() == 0 {
                return "DNS changes published".into();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        format!(
            "WARNING: {} DNS change(s) still queued; the publisher keeps retrying",
            self.store.queue_len()
        )
    }

    /// Runs one operator request.
    pub async fn admin(&self, req: AdminRequest, local: bool) -> AdminReply {
        match self.admin_inner(req, local).await {
            Ok(text) => AdminReply { ok: true, text },
            Err(e) => AdminReply {
                ok: false,
                text: format!("{e:#}"),
            },
        }
    }

    async fn admin_inner(&self, req: AdminRequest, local: bool) -> anyhow::Result<String> {
        let store = self.store.clone();
        match req {
            AdminRequest::RegistrarAdd(spec) => {
                let r =
                    tokio::task::spawn_blocking(move || registrar::add(&store, &spec)).await??;
                Ok(format!("added {}", registrar::describe(&r)))
            }
            AdminRequest::RegistrarUpdate(spec) => {
                let r =
                    tokio::task::spawn_blocking(move || registrar::update(&store, &spec)).await??;
                Ok(format!("updated {}", registrar::describe(&r)))
            }
            AdminRequest::RegistrarList => Ok(self
                .store
                .registrars()?
                .iter()
                .map(registrar::describe)
                .collect::<Vec<_>>()
                .join("\n")),
            AdminRequest::Ledger { registrar } => Ok(self
                .store
                .ledger(registrar.as_deref())?
                .iter()
                .map(|e| {
                    format!(
                        "{}\t{}\t{}\t{:?}\t{}\tyears={}\tamount={}\tbalance={}",
                        e.id,
                        fmt(e.at),
                        e.registrar,
                        e.kind,
                        e.object,
                        e.years,
                        e.amount,
                        e.balance
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")),
            AdminRequest::Status => {
                let blocked = self
                    .store
                    .publish_blocked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                Ok(format!(
                    "clock {}\nclock_offset_seconds {}\npublisher_queue {}\npublisher_blocked {}",
                    fmt(self.store.clock.now()),
                    self.store.clock.offset(),
                    self.store.queue_len(),
                    blocked.as_deref().unwrap_or("no")
                ))
            }
            AdminRequest::PublisherQueue { limit } => {
                let ops = self.store.queue_peek(limit)?;
                Ok(ops
                    .iter()
                    .map(|o| {
                        let names: Vec<&str> = o.owners.iter().map(|w| w.name.as_str()).collect();
                        format!("{}	queued={}	{}", o.id, fmt(o.queued), names.join(" "))
                    })
                    .collect::<Vec<_>>()
                    .join("\n"))
            }
            AdminRequest::PublisherDrop { id } => {
                let op = self
                    .store
                    .queue_peek(usize::MAX)?
                    .into_iter()
                    .find(|o| o.id == id)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "no queued DNS change {id} (see `tldd srs publisher queue`)"
                        )
                    })?;
                let names: Vec<String> = op.owners.iter().map(|w| w.name.clone()).collect();
                self.store.queue_remove(&[id])?;
                *self
                    .store
                    .publish_blocked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = None;
                self.metrics.blocked.set(0);
                self.store.publish_retry.notify_one();
                tracing::warn!(op = id, names = %names.join(" "), "queued DNS change dropped by the operator");
                Ok(format!(
                    "dropped DNS change {id} ({}): the zone may now differ from the registry at these names; \
                     once the DNS server accepts them, `tldd srs reconcile` repairs them",
                    names.join(" ")
                ))
            }
            AdminRequest::PublisherRetry => {
                self.store.publish_retry.notify_one();
                let tail = self.settle(local).await;
                Ok(format!("publisher woken; {tail}"))
            }
            AdminRequest::Lifecycle { at } => {
                let now = self.store.clock.now();
                let at = at.unwrap_or(now);
                if at > now + 1 {
                    if !self.cfg.srs.clock_control {
                        anyhow::bail!(
                            "--at {} is in the future of the SRS clock ({}); moving the clock needs `[srs] clock_control = true`",
                            fmt(at),
                            fmt(now)
                        );
                    }
                    self.store.advance_clock(at)?;
                    tracing::warn!(clock = %fmt(at), "SRS clock moved forward by operator");
                }
                let policy = self.policy.clone();
                let rep =
                    tokio::task::spawn_blocking(move || run_due(&store, &policy, at)).await??;
                self.metrics
                    .lifecycle_transitions
                    .inc_by(rep.transitions as u64);
                let tail = self.settle(local).await;
                Ok(format!(
                    "lifecycle at {}: {} transition(s) on {} domain(s); {tail}",
                    fmt(at),
                    rep.transitions,
                    rep.domains
                ))
            }
            AdminRequest::Reconcile { dry_run } => {
                let d = &self.cfg.srs.dns;
                let rep = crate::reconcile::reconcile(
                    &self.store,
                    &self.policy.p.reserved,
                    d.axfr_server.unwrap_or(d.server),
                    &self.xfr_key,
                    Duration::from_secs(d.timeout * 6),
                    d.batch,
                    dry_run,
                )
                .await
                .map_err(|e| anyhow::anyhow!("reconcile: {e}"))?;
                let tail = if rep.queued {
                    self.settle(local).await
                } else {
                    String::new()
                };
                Ok(format!("{rep}\n{tail}").trim_end().to_string())
            }
        }
    }

    /// Serves the control socket.
    pub async fn serve_control(self: Arc<Self>, listener: UnixListener) {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                continue;
            };
            let app = self.clone();
            tokio::spawn(async move {
                let (r, mut w) = conn.into_split();
                let mut line = String::new();
                let mut r = BufReader::new(r);
                if r.read_line(&mut line).await.is_err() {
                    return;
                }
                let reply = match serde_json::from_str::<AdminRequest>(&line) {
                    Ok(req) => {
                        tracing::info!(request = ?redacted(&req), "admin request");
                        app.admin(req, false).await
                    }
                    Err(e) => AdminReply {
                        ok: false,
                        text: format!("bad control request: {e}"),
                    },
                };
                let mut out = serde_json::to_string(&reply).unwrap_or_default();
                out.push('\n');
                let _ = w.write_all(out.as_bytes()).await;
            });
        }
    }
}

fn redacted(r: &AdminRequest) -> AdminRequest {
    let mut r = r.clone();
    if let AdminRequest::RegistrarAdd(s) | AdminRequest::RegistrarUpdate(s) = &mut r {
        if s.password.is_some() {
            s.password = Some("<redacted>".into());
        }
    }
    r
}

/// Binds the control socket (replacing a stale one) with mode 0600.
pub fn bind_control(path: &std::path::Path) -> anyhow::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path)
        .map_err(|e| anyhow::anyhow!("control socket {}: {e}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Runs a request: through a running server if there is one, else locally.
pub async fn run_request(cfg: Loaded, req: AdminRequest) -> anyhow::Result<AdminReply> {
    let path = App::control_path(&cfg);
    match UnixStream::connect(&path).await {
        Ok(conn) => {
            let (r, mut w) = conn.into_split();
            let mut line = serde_json::to_string(&req)?;
            line.push('\n');
            w.write_all(line.as_bytes()).await?;
            let mut answer = String::new();
            BufReader::new(r).read_line(&mut answer).await?;
            serde_json::from_str(&answer).map_err(|e| {
                anyhow::anyhow!("bad answer from the server on {}: {e}", path.display())
            })
        }
        Err(_) => {
            let app = App::open(cfg)?;
            Ok(app.admin(req, true).await)
        }
    }
}
