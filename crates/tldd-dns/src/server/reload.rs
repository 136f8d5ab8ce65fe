//! `tldd ctl reload` and SIGHUP: the configuration file read again and
//! applied to the running server, without a restart and without dropping
//! a query.
//!
//! # Two phases
//! 1. **Check** (nothing changes): the file parses and validates (a bad
//!    one is refused with its key and line, as at start); the TSIG keys
//!    build; every added zone loads (store or file, signed and verified);
//!    every changed zone's configuration is accepted (its signing keys are
//!    found); every added listen address binds. Any failure refuses the
//!    whole reload and the running configuration stays as it was (the
//!    listeners opened for it are closed again).
//! 2. **Apply**: the TSIG key ring is swapped (the replay cache stays, so
//!    nothing admitted before can be replayed after); removed zones' loops
//!    stop (what they hold is finished and durable) and their names leave
//!    the served set (REFUSED, unless a parent zone of ours holds them; the
//!    store keeps their data, so adding them back resumes from it); a zone
//!    whose ACLs or update key changed gets a new runtime record (its loop
//!    goes on); a zone with any other change (file, primary, notify
//!    targets, transfer key, `[zone.dnssec]`, `[hsm]` for a signed zone)
//!    has its loop restarted from the store, while the served set keeps
//!    answering from its current version throughout; added zones are
//!    served and get their loops; removed listen addresses close after the
//!    added ones answer.
//!
//! A zone's *file* changing is not a reload matter: the store is the
//! zone's truth once it has one; `tldd ctl zone-reload ZONE` reads the file.
//!
//! # Limits
//! `[server]` keys other than `listen` and `tsig_max_fudge` (the data
//! directory, worker counts, NSID and identity, the metrics listener, the
//! health bounds, ...) take effect at the next restart: the reply and the
//! log name each one that changed. During a zone's loop restart its
//! updates are answered SERVFAIL (the sender retries); a large zone takes
//! the time its store load takes (seconds for a million delegations).
use super::listeners::{Listener, Setup};
use super::zones::{self, Prepared, Shared};
use crate::config::{Config, ZoneConfig};
use crate::events::Event;
use crate::runtime::{Services, ZoneRuntime};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What the server runs now, owned by the reloader (one reload at a time).
pub struct Running {
    pub cfg: Arc<Config>,
    /// `[server]` of the running file, as TOML (to name changed keys).
    pub server_table: toml::Table,
    pub loops: Vec<(String, std::thread::JoinHandle<()>)>,
    pub listeners: Vec<Listener>,
}

/// Re-reads `path` and applies it.
pub struct Reloader {
    path: Option<PathBuf>,
    svc: Arc<Services>,
    store: crate::journal::Journal,
    setup: Setup,
    running: tokio::sync::Mutex<Running>,
}

/// A reload refused: nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(
        "no configuration file to reload from (the server was started from a parsed configuration)"
    )]
    NoFile,
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("tsig: {0}")]
    Tsig(#[from] tldd_tsig::KeyError),
    #[error("{0:#}")]
    Check(anyhow::Error),
    #[error("reload task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// What a reload did, one fact per line.
#[derive(Debug, Default)]
pub struct Summary {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub restarted: Vec<String>,
    pub reconfigured: Vec<String>,
    pub listen_added: Vec<String>,
    pub listen_removed: Vec<String>,
    pub tsig_keys: usize,
    /// `[server]` keys that changed but wait for a restart.
    pub restart_needed: Vec<String>,
}

impl Summary {
    /// `key: value` facts (lists space-separated, `-` for none).
    pub fn facts(&self) -> Vec<(String, String)> {
        let list = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(" ")
            }
        };
        vec![
            ("zones_added".into(), list(&self.added)),
            ("zones_removed".into(), list(&self.removed)),
            ("zones_restarted".into(), list(&self.restarted)),
            ("zones_reconfigured".into(), list(&self.reconfigured)),
            ("listen_added".into(), list(&self.listen_added)),
            ("listen_removed".into(), list(&self.listen_removed)),
            ("tsig_keys".into(), self.tsig_keys.to_string()),
            ("restart_needed".into(), list(&self.restart_needed)),
        ]
    }
}

/// How a zone present before and after differs.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    None,
    /// ACLs or the update key only: a new runtime record, same loop.
    Runtime,
    /// Anything the loop holds: restart it.
    Loop,
}

fn change(old: &Config, new: &Config, a: &ZoneConfig, b: &ZoneConfig) -> Change {
    let key = |c: &Config, z: &ZoneConfig| {
        z.transfer_key
            .as_ref()
            .and_then(|l| c.tsig.iter().find(|k| k.name == *l.get_ref()).cloned())
    };
    let signed = a.dnssec.is_some() || b.dnssec.is_some();
    let loop_same = key(old, a) == key(new, b) && (!signed || old.hsm == new.hsm);
    if a == b && loop_same {
        return Change::None;
    }
    let mut b_runtime = b.clone();
    b_runtime.update_key = a.update_key.clone();
    b_runtime.allow_transfer = a.allow_transfer.clone();
    b_runtime.allow_notify = a.allow_notify.clone();
    if b_runtime == *a && loop_same {
        Change::Runtime
    } else {
        Change::Loop
    }
}

/// `[server]` keys whose value differs, but `listen` and `tsig_max_fudge`
/// (applied by the reload).
fn restart_needed(old: &toml::Table, new: &toml::Table) -> Vec<String> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !matches!(k.as_str(), "listen" | "tsig_max_fudge"))
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| format!("server.{k}"))
        .collect()
}

/// The `[server]` table of a configuration file's text.
pub fn server_table(text: &str) -> toml::Table {
    text.parse::<toml::Table>()
        .ok()
        .and_then(|t| t.get("server").and_then(|s| s.as_table()).cloned())
        .unwrap_or_default()
}

impl Reloader {
    pub fn new(
        path: Option<PathBuf>,
        svc: Arc<Services>,
        store: crate::journal::Journal,
        setup: Setup,
        running: Running,
    ) -> Reloader {
        Reloader {
            path,
            svc,
            store,
            setup,
            running: tokio::sync::Mutex::new(running),
        }
    }

    /// `udp=...,tcp=...` of each open listener.
    pub async fn listeners(&self) -> Vec<String> {
        self.running
            .lock()
            .await
            .listeners
            .iter()
            .map(Listener::describe)
            .collect()
    }

    /// The `file` of a zone in the running configuration.
    pub async fn zone_file(&self, origin: &str) -> Option<PathBuf> {
        let r = self.running.lock().await;
        r.cfg
            .zone
            .iter()
            .find(|z| z.origin() == origin)
            .and_then(|z| z.file.clone())
    }

    /// Takes what runs, for shutdown.
    pub async fn take(&self) -> Running {
        let mut r = self.running.lock().await;
        Running {
            cfg: r.cfg.clone(),
            server_table: std::mem::take(&mut r.server_table),
            loops: std::mem::take(&mut r.loops),
            listeners: std::mem::take(&mut r.listeners),
        }
    }

    /// Reads the file again and applies it (module docs).
    pub async fn reload(&self) -> Result<Summary, ReloadError> {
        let path = self.path.clone().ok_or(ReloadError::NoFile)?;
        let mut running = self.running.lock().await;
        let text = {
            let p = path.clone();
            tokio::task::spawn_blocking(move || std::fs::read_to_string(&p)).await?
        }
        .map_err(|source| crate::config::ConfigError::Io {
            path: path.clone(),
            source,
        })?;
        let new = Arc::new(Config::parse(&text, &path)?);
        let ring = Arc::new(
            tldd_tsig::KeyRing::from_config(&new.tsig)?
                .with_max_fudge(u16::try_from(new.server.tsig_max_fudge).unwrap_or(u16::MAX)),
        );
        let old = running.cfg.clone();
        let mut summary = Summary {
            tsig_keys: new.tsig.len(),
            restart_needed: restart_needed(&running.server_table, &server_table(&text)),
            ..Summary::default()
        };
        let sh = Shared {
            cfg: new.clone(),
            zones: self.svc.zones.clone(),
            metrics: self.svc.metrics.clone(),
            rt: self.setup.rt.clone(),
            keys: ring.clone(),
        };

        // Phase 1: check (and load) without changing what is served.
        let olds: BTreeMap<String, &ZoneConfig> =
            old.zone.iter().map(|z| (z.origin(), z)).collect();
        let mut plan = Vec::new();
        for z in &new.zone {
            let o = z.origin();
            match olds.get(&o) {
                None => plan.push((o, Plan::Add)),
                Some(a) => match change(&old, &new, a, z) {
                    Change::None => plan.push((o, Plan::Keep)),
                    Change::Runtime => plan.push((o, Plan::Runtime)),
                    Change::Loop => plan.push((o, Plan::Restart)),
                },
            }
        }
        let prepared = {
            let (sh2, new2, store) = (clone_shared(&sh), new.clone(), self.store.clone());
            let todo: Vec<(usize, bool)> = plan
                .iter()
                .enumerate()
                .filter_map(|(i, (_, p))| match p {
                    Plan::Add => Some((i, true)),
                    Plan::Restart => Some((i, false)),
                    _ => None,
                })
                .collect();
            tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Ready>> {
                let mut out = Vec::new();
                for (i, add) in todo {
                    let z = &new2.zone[i];
                    let prep = Prepared::new(&sh2, z)?;
                    let loaded = if add {
                        Some(zones::load_zone(
                            &new2,
                            z,
                            &tldd_zone::progress::Quiet,
                            &sh2.metrics,
                            &store,
                        )?)
                    } else {
                        None
                    };
                    out.push(Ready {
                        index: i,
                        prep,
                        loaded,
                    });
                }
                Ok(out)
            })
            .await?
            .map_err(ReloadError::Check)?
        };
        let configured: Vec<_> = running.listeners.iter().map(|l| l.configured).collect();
        let mut opened = Vec::new();
        for &addr in &new.server.listen {
            if configured.contains(&addr) {
                continue;
            }
            match Listener::open(&self.setup, addr) {
                Ok(l) => opened.push(l),
                Err(e) => {
                    for l in opened {
                        l.signal_stop();
                    }
                    return Err(ReloadError::Check(e));
                }
            }
        }

        // Phase 2: apply.
        self.svc.keys.store(ring);
        let current = self.svc.zones_rt();
        let find = |o: &str| current.iter().find(|z| z.origin_text == o).cloned();
        let news: BTreeMap<String, ()> = new.zone.iter().map(|z| (z.origin(), ())).collect();
        for z in old.zone.iter().filter(|z| !news.contains_key(&z.origin())) {
            let o = z.origin();
            if let Some(rt) = find(&o) {
                self.stop_loop(&mut running, &rt).await;
                self.svc.zones.rcu(|zs| zs.without(&rt.origin));
            }
            tracing::info!(zone = %o, "reload: zone removed (its store is kept)");
            summary.removed.push(o);
        }
        let mut ready: BTreeMap<usize, Ready> =
            prepared.into_iter().map(|r| (r.index, r)).collect();
        let mut list: Vec<Arc<ZoneRuntime>> = Vec::new();
        for (i, (o, p)) in plan.iter().enumerate() {
            let z = &new.zone[i];
            match p {
                Plan::Keep => list.extend(find(o)),
                Plan::Runtime => {
                    if let Some(rt) = find(o) {
                        let key = z
                            .transfer_key
                            .as_ref()
                            .and_then(|k| sh.keys.by_label(k.get_ref()));
                        let mut fresh = zones::runtime_of(
                            z,
                            rt.origin.to_vec(),
                            o.clone(),
                            key,
                            rt.events.clone(),
                            rt.journal.clone(),
                        );
                        fresh.primary_behind = rt.primary_behind.clone();
                        list.push(Arc::new(fresh));
                        tracing::info!(zone = %o, "reload: ACLs and keys updated");
                        summary.reconfigured.push(o.clone());
                    }
                }
                Plan::Restart => {
                    let Some(r) = ready.remove(&i) else { continue };
                    if let Some(rt) = find(o) {
                        self.stop_loop(&mut running, &rt).await;
                    }
                    match self.restart(&sh, z, r.prep).await {
                        Ok((rt, h)) => {
                            running.loops.push((o.clone(), h));
                            list.push(rt);
                            tracing::info!(zone = %o, "reload: zone loop restarted with the new configuration");
                            summary.restarted.push(o.clone());
                        }
                        Err(e) => {
                            tracing::error!(zone = %o, "reload: the zone's loop did not restart, it is served as it was, without updates: {e:#}");
                        }
                    }
                }
                Plan::Add => {
                    let Some(r) = ready.remove(&i) else { continue };
                    let Some((zs, zone)) = r.loaded else { continue };
                    if let Some(zone) = &zone {
                        let served = Arc::new(zone.clone());
                        self.svc.zones.rcu(|set| set.with(served.clone()));
                    }
                    match r.prep.start(&sh, zs, zone) {
                        Ok((rt, h)) => {
                            running.loops.push((o.clone(), h));
                            list.push(rt);
                            tracing::info!(zone = %o, "reload: zone added");
                            summary.added.push(o.clone());
                        }
                        Err(e) => {
                            tracing::error!(zone = %o, "reload: the added zone's loop did not start: {e:#}")
                        }
                    }
                }
            }
        }
        self.svc.zone_rt.store(Arc::new(list));
        for l in opened {
            summary.listen_added.push(l.describe());
            running.listeners.push(l);
        }
        let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut running.listeners)
            .into_iter()
            .partition(|l| new.server.listen.contains(&l.configured));
        running.listeners = keep;
        for l in gone {
            summary.listen_removed.push(l.describe());
            let _ = tokio::task::spawn_blocking(move || l.close()).await;
        }
        for k in &summary.restart_needed {
            tracing::warn!(key = %k, "reload: changed, takes effect at the next restart");
        }
        running.cfg = new;
        running.server_table = server_table(&text);
        tracing::info!(
            added = summary.added.len(),
            removed = summary.removed.len(),
            restarted = summary.restarted.len(),
            reconfigured = summary.reconfigured.len(),
            listen_added = summary.listen_added.len(),
            listen_removed = summary.listen_removed.len(),
            "configuration reloaded from {}",
            path.display()
        );
        Ok(summary)
    }

    /// Stops a zone's loop (it finishes what it holds) and waits for it.
    async fn stop_loop(&self, running: &mut Running, rt: &ZoneRuntime) {
        let _ = rt.events.send(Event::Stop).await;
        if let Some(pos) = running.loops.iter().position(|(o, _)| *o == rt.origin_text) {
            let (_, h) = running.loops.swap_remove(pos);
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }

    /// A changed zone's loop started again from what the store holds.
    async fn restart(
        &self,
        sh: &Shared,
        z: &ZoneConfig,
        prep: Prepared,
    ) -> anyhow::Result<(Arc<ZoneRuntime>, std::thread::JoinHandle<()>)> {
        let (sh2, z2, store) = (clone_shared(sh), z.clone(), self.store.clone());
        tokio::task::spawn_blocking(move || {
            use anyhow::Context;
            let o = z2.origin();
            let mut zs = store.zone(&o, z2.journal_max)?;
            let mut wire = Vec::new();
            tldd_zone::name::from_text(o.as_bytes(), &[0], true, &mut wire)
                .map_err(|e| anyhow::anyhow!("zone {o}: {e}"))?;
            let zone = zs.load(&wire).with_context(|| format!("zone {o}: store"))?;
            prep.start(&sh2, zs, zone)
        })
        .await?
    }
}

enum Plan {
    Keep,
    Runtime,
    Restart,
    Add,
}

struct Ready {
    index: usize,
    prep: Prepared,
    loaded: Option<(crate::journal::ZoneJournal, Option<tldd_zone::Zone>)>,
}

fn clone_shared(sh: &Shared) -> Shared {
    Shared {
        cfg: sh.cfg.clone(),
        zones: sh.zones.clone(),
        metrics: sh.metrics.clone(),
        rt: sh.rt.clone(),
        keys: sh.keys.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        Config::parse(text, std::path::Path::new("t.toml")).unwrap()
    }

    const BASE: &str = "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"/tmp/x\"\n";

    #[test]
    fn acl_changes_keep_the_loop_and_the_rest_restarts_it() {
        let a = cfg(&format!(
            "{BASE}[[zone]]\norigin = \"shop.\"\nfile = \"a\"\n"
        ));
        let acl = cfg(&format!(
            "{BASE}[[zone]]\norigin = \"shop.\"\nfile = \"a\"\nallow_transfer = [\"127.0.0.1\"]\n"
        ));
        let file = cfg(&format!(
            "{BASE}[[zone]]\norigin = \"shop.\"\nfile = \"b\"\n"
        ));
        let (za, zacl, zfile) = (&a.zone[0], &acl.zone[0], &file.zone[0]);
        assert_eq!(change(&a, &a, za, za), Change::None);
        assert_eq!(change(&a, &acl, za, zacl), Change::Runtime);
        assert_eq!(change(&a, &file, za, zfile), Change::Loop);
    }

    #[test]
    fn a_changed_transfer_key_secret_restarts_the_loop() {
        let with = |secret: &str| {
            cfg(&format!(
                "{BASE}[[tsig]]\nname = \"k\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{secret}\"\n\
                 [[zone]]\norigin = \"shop.\"\nfile = \"a\"\ntransfer_key = \"k\"\n"
            ))
        };
        let (a, b) = (with("AAAA"), with("BBBB"));
        assert_eq!(change(&a, &b, &a.zone[0], &b.zone[0]), Change::Loop);
    }

    #[test]
    fn server_keys_that_wait_for_a_restart_are_named() {
        let old = server_table("[server]\nlisten = [\"a\"]\nnsid = \"x\"\n");
        let new = server_table("[server]\nlisten = [\"b\"]\nnsid = \"y\"\nudp_workers = 2\n");
        assert_eq!(
            restart_needed(&old, &new),
            vec!["server.nsid".to_string(), "server.udp_workers".to_string()]
        );
    }
}
