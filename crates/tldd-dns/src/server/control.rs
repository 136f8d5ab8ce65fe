//! The control socket of a running `tldd serve`: `data_dir/ctl.sock`, a
//! Unix socket of mode 0600 (only the owner of the data may steer the
//! server; the SRS's `control.sock` follows the same convention).
//!
//! # Protocol
//! One JSON line in ([`Request`], tagged by `cmd`), one JSON line out
//! ([`Reply`]): `ok`, and `blocks` of `[key, value]` facts (one block per
//! zone for `zone-status`), or `error`. `tldd ctl` prints the facts as
//! `key: value` lines (or JSON) and exits 0, 1 (refused) or 2 (no server).
//!
//! # What is here
//! `status`, `zone-status [ZONE]`, `zone-notify ZONE`, `zone-refresh ZONE`,
//! `zone-retransfer ZONE` (a secondary's forced AXFR),
//! `zone-freeze ZONE` / `zone-thaw ZONE` (updates answered SERVFAIL
//! meanwhile, so senders such as the SRS retry and lose nothing) and
//! `zone-flush ZONE [--out FILE]`, `reload` ([`super::reload`]),
//! `zone-reload ZONE [--force]` (the file read and checked here, the
//! version made by the loop) and `zone-sign ZONE`. Zone questions and orders go to the
//! zone's event loop ([`crate::events::control`]), so they see and change
//! the zone only through its one owner; `zone-flush` writes the served
//! version (an immutable snapshot: no loop needed) through a temporary
//! file and a rename.
//!
//! # Not yet (issue 15)
//! `zone-backup`/`zone-restore`.
use crate::events::control::{Control, ZoneFacts};
use crate::events::Event;
use crate::runtime::{Services, ZoneRuntime};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::oneshot;

/// The socket's path in `data_dir`.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("ctl.sock")
}

/// One command.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    Status,
    ZoneStatus {
        zone: Option<String>,
    },
    ZoneNotify {
        zone: String,
    },
    ZoneRefresh {
        zone: String,
    },
    ZoneRetransfer {
        zone: String,
    },
    ZoneFreeze {
        zone: String,
    },
    ZoneThaw {
        zone: String,
    },
    ZoneFlush {
        zone: String,
        out: Option<PathBuf>,
    },
    /// Re-read the configuration file and apply it ([`super::reload`]).
    Reload,
    /// Re-read a primary zone's file: its changes as one version
    /// (`force`: the zone replaced by it).
    ZoneReload {
        zone: String,
        #[serde(default)]
        force: bool,
    },
    /// Sign the whole zone again now.
    ZoneSign {
        zone: String,
    },
    /// Re-read the key state and run a key step (`tldd keys` after it
    /// changed the state, and `tldd keys status`).
    ZoneKeys {
        zone: String,
    },
}

/// The answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default)]
    pub blocks: Vec<Vec<(String, String)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Reply {
    fn facts(blocks: Vec<Vec<(String, String)>>) -> Reply {
        Reply {
            ok: true,
            blocks,
            error: None,
        }
    }

    fn refused(e: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            blocks: Vec::new(),
            error: Some(e.into()),
        }
    }
}

/// What `status` reports besides the zones.
pub struct ServerInfo {
    pub started: Instant,
    pub data_dir: PathBuf,
    /// `reload`, and the listeners open now.
    pub reloader: Arc<super::reload::Reloader>,
}

/// Binds the socket (replacing a stale one: the journal's lock already
/// proved no other tldd serves from this `data_dir`), mode 0600.
pub fn bind(data_dir: &Path) -> std::io::Result<UnixListener> {
    let path = socket_path(data_dir);
    let _ = std::fs::remove_file(&path);
    let l = UnixListener::bind(&path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Answers commands until the runtime stops.
pub async fn serve(listener: UnixListener, svc: Arc<Services>, info: Arc<ServerInfo>) {
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            continue;
        };
        let (svc, info) = (svc.clone(), info.clone());
        tokio::spawn(async move {
            let (r, mut w) = conn.into_split();
            let mut line = String::new();
            if BufReader::new(r).read_line(&mut line).await.is_err() {
                return;
            }
            let reply = match serde_json::from_str::<Request>(&line) {
                Ok(req) => {
                    tracing::info!(request = ?req, "control request");
                    answer(req, &svc, &info).await
                }
                Err(e) => Reply::refused(format!("bad control request: {e}")),
            };
            let mut out = serde_json::to_string(&reply).unwrap_or_default();
            out.push('\n');
            let _ = w.write_all(out.as_bytes()).await;
        });
    }
}

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// `shop`, `shop.` and `SHOP.` all name the zone `shop.`.
pub(super) fn find(svc: &Services, zone: &str) -> Result<Arc<ZoneRuntime>, Reply> {
    let want = zone.trim_end_matches('.').to_ascii_lowercase() + ".";
    svc.zones_rt()
        .iter()
        .find(|z| z.origin_text.eq_ignore_ascii_case(&want))
        .cloned()
        .ok_or_else(|| Reply::refused(format!("no zone {want} is served")))
}

async fn ask<T>(
    z: &ZoneRuntime,
    make: impl FnOnce(oneshot::Sender<T>) -> Control,
) -> Result<T, Reply> {
    let (tx, rx) = oneshot::channel();
    z.events
        .send(Event::Control(make(tx)))
        .await
        .map_err(|_| Reply::refused(format!("zone {}: its loop has stopped", z.origin_text)))?;
    rx.await
        .map_err(|_| Reply::refused(format!("zone {}: no answer from its loop", z.origin_text)))
}

async fn answer(req: Request, svc: &Services, info: &ServerInfo) -> Reply {
    let result = match req {
        Request::Status => Ok(Reply::facts(vec![vec![
            kv("version", env!("CARGO_PKG_VERSION")),
            kv("pid", std::process::id()),
            kv("uptime_seconds", info.started.elapsed().as_secs()),
            kv("data_dir", info.data_dir.display()),
            kv("zones", svc.zones_rt().len()),
            kv("listen", info.reloader.listeners().await.join(" ")),
        ]])),
        Request::ZoneStatus { zone } => zone_status(svc, zone.as_deref()).await,
        Request::ZoneNotify { zone } => order(svc, &zone, Control::Notify).await,
        Request::ZoneRefresh { zone } => order(svc, &zone, Control::Refresh).await,
        Request::ZoneRetransfer { zone } => order(svc, &zone, Control::Retransfer).await,
        Request::ZoneFreeze { zone } => order(svc, &zone, Control::Freeze).await,
        Request::ZoneThaw { zone } => order(svc, &zone, Control::Thaw).await,
        Request::ZoneFlush { zone, out } => flush(svc, info, &zone, out).await,
        Request::ZoneKeys { zone } => zone_keys(svc, &zone).await,
        Request::ZoneReload { zone, force } => zone_reload(svc, info, &zone, force).await,
        Request::ZoneSign { zone } => order(svc, &zone, Control::SignAll).await,
        Request::Reload => match info.reloader.reload().await {
            Ok(summary) => Ok(Reply::facts(vec![summary.facts()])),
            Err(e) => Err(Reply::refused(format!(
                "reload refused, the running configuration stays: {e}"
            ))),
        },
    };
    result.unwrap_or_else(|r| r)
}

async fn zone_status(svc: &Services, zone: Option<&str>) -> Result<Reply, Reply> {
    let zones: Vec<Arc<ZoneRuntime>> = match zone {
        Some(z) => vec![find(svc, z)?],
        None => svc.zones_rt().to_vec(),
    };
    let mut blocks = Vec::new();
    for z in zones {
        blocks.push(facts_lines(&ask(&z, Control::Status).await?));
    }
    Ok(Reply::facts(blocks))
}

fn facts_lines(f: &ZoneFacts) -> Vec<(String, String)> {
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    let mut out = vec![
        kv("zone", &f.zone),
        kv("serial", f.serial.map_or("-".into(), |s| s.to_string())),
        kv("role", if f.secondary { "secondary" } else { "primary" }),
        kv("signed", if f.signed { "yes" } else { "no" }),
        kv("delegations", f.delegations),
        kv("journal_entries", f.journal_entries),
        kv("notify_targets", f.notify_targets),
        kv("notify_pending", f.notify_pending),
        kv(
            "frozen",
            f.frozen_for
                .map_or("no".to_string(), |s| format!("yes ({s}s)")),
        ),
    ];
    if f.secondary {
        out.push(kv("primary", f.primary.as_deref().unwrap_or("-")));
        out.push(kv("last_refresh_unix", opt(f.last_refresh)));
        out.push(kv("next_refresh_seconds", opt(f.next_refresh_in)));
        out.push(kv("expires_in_seconds", opt(f.expires_in)));
    }
    if f.signed {
        out.push(kv("next_signature_refresh_seconds", opt(f.next_resign_in)));
    }
    if let Some(e) = f.earliest_signature_expiry {
        out.push(kv(
            "earliest_signature_expiry",
            crate::keys::roll::rfc3339(e),
        ));
    }
    if let Some(theirs) = f.primary_behind {
        out.push(kv(
            "primary_behind",
            format!(
                "{theirs} (the primary's serial is behind ours; zone-retransfer takes its copy)"
            ),
        ));
    }
    if let Some(n) = &f.next_key_event {
        out.push(kv("next_key_event", n));
    }
    if !f.key_waiting.is_empty() {
        out.push(kv("key_waiting", f.key_waiting.join(", ")));
    }
    out
}

async fn zone_keys(svc: &Services, zone: &str) -> Result<Reply, Reply> {
    let z = find(svc, zone)?;
    match ask(&z, Control::Keys).await? {
        Ok(lines) => Ok(Reply::facts(vec![lines
            .into_iter()
            .map(|l| kv("key", l))
            .collect()])),
        Err(e) => Err(Reply::refused(format!("zone {}: {e}", z.origin_text))),
    }
}

type Order = fn(oneshot::Sender<Result<String, String>>) -> Control;

async fn order(svc: &Services, zone: &str, make: Order) -> Result<Reply, Reply> {
    let z = find(svc, zone)?;
    match ask(&z, make).await? {
        Ok(done) => Ok(Reply::facts(vec![vec![
            kv("zone", &z.origin_text),
            kv("result", done),
        ]])),
        Err(e) => Err(Reply::refused(format!("zone {}: {e}", z.origin_text))),
    }
}

/// `zone-reload`: the file read (and checked) here, off the zone's loop;
/// the loop makes the version ([`crate::events`]'s `reload`).
async fn zone_reload(
    svc: &Services,
    info: &ServerInfo,
    zone: &str,
    force: bool,
) -> Result<Reply, Reply> {
    let z = find(svc, zone)?;
    let Some(file) = info.reloader.zone_file(&z.origin_text).await else {
        return Err(Reply::refused(format!(
            "zone {}: no [[zone]] file to read (a secondary: zone-refresh or zone-retransfer)",
            z.origin_text
        )));
    };
    let origin = z.origin_text.clone();
    let (loaded, mark) = tokio::task::spawn_blocking(move || {
        let mark = crate::journal::filemark::FileMark::of_file(&file).ok();
        super::zones::reload_zone_file(&origin, &file).map(|z| (z, mark))
    })
    .await
    .map_err(|e| Reply::refused(format!("zone {}: reading task: {e}", z.origin_text)))?
    .map_err(|e| Reply::refused(format!("{e:#}; the served zone is unchanged")))?;
    let (tx, rx) = oneshot::channel();
    let c = Control::ReloadFile {
        zone: Box::new(loaded),
        force,
        mark,
        reply: tx,
    };
    z.events
        .send(Event::Control(c))
        .await
        .map_err(|_| Reply::refused(format!("zone {}: its loop has stopped", z.origin_text)))?;
    match rx.await {
        Ok(Ok(done)) => Ok(Reply::facts(vec![vec![
            kv("zone", &z.origin_text),
            kv("result", done),
        ]])),
        Ok(Err(e)) => Err(Reply::refused(format!("zone {}: {e}", z.origin_text))),
        Err(_) => Err(Reply::refused(format!(
            "zone {}: no answer from its loop",
            z.origin_text
        ))),
    }
}

/// Writes the served version as RFC 1035 text: `out`, or
/// `data_dir/flush/<zone>zone`.
async fn flush(
    svc: &Services,
    info: &ServerInfo,
    zone: &str,
    out: Option<PathBuf>,
) -> Result<Reply, Reply> {
    let z = find(svc, zone)?;
    let served = svc
        .served(&z.origin)
        .ok_or_else(|| Reply::refused(format!("zone {}: nothing served yet", z.origin_text)))?;
    let path = out.unwrap_or_else(|| {
        info.data_dir
            .join("flush")
            .join(format!("{}zone", z.origin_text))
    });
    let origin = z.origin_text.clone();
    let target = path.clone();
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = target.with_extension("tmp");
        let file = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::new(file);
        let n = crate::signer::zonefile::write_zone(&served, &mut w, &|_| {})?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        Ok(n)
    })
    .await
    .map_err(|e| Reply::refused(format!("zone {origin}: flush task: {e}")))?
    .map_err(|e| Reply::refused(format!("zone {origin}: writing {}: {e}", path.display())))?;
    Ok(Reply::facts(vec![vec![
        kv("zone", &z.origin_text),
        kv("written", path.display()),
        kv("records", written),
    ]]))
}

/// The client side (`tldd ctl`): sends `req` to the server of `data_dir`.
/// `Err` when no server answers on the socket.
pub fn request(data_dir: &Path, req: &Request) -> std::io::Result<Reply> {
    use std::io::{BufRead, Write};
    let path = socket_path(data_dir);
    let mut s = std::os::unix::net::UnixStream::connect(&path)?;
    let mut line = serde_json::to_string(req).map_err(std::io::Error::other)?;
    line.push('\n');
    s.write_all(line.as_bytes())?;
    let mut answer = String::new();
    std::io::BufReader::new(s).read_line(&mut answer)?;
    serde_json::from_str(&answer).map_err(std::io::Error::other)
}
