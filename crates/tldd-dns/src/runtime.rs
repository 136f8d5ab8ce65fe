//! The running server's shared context: what the dispatcher and every
//! request handler (UPDATE, NOTIFY, transfers) and the secondary refresh
//! need — the served zones ([`Services`]), each zone's runtime
//! ([`ZoneRuntime`]: configuration, its event loop's queue, its journal) —
//! and the reply types. A leaf: it imports only lower layers, and the
//! handlers import it, never each other or the dispatcher.
use crate::events::Event;
use crate::wire::answer::reply_rcode;
use crate::wire::{Params, Query, ZoneSet};
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::Arc;
use tldd_tsig::{self as tsig, KeyRing, ReplayCache, Verified};
use tokio::sync::mpsc;

/// Everything the handlers need, shared by all connections.
pub struct Services {
    pub zones: Arc<ArcSwap<ZoneSet>>,
    pub params: Arc<Params>,
    /// The TSIG keys; `reload` swaps them (the replay cache stays).
    pub keys: ArcSwap<KeyRing>,
    /// Each zone's runtime; `reload` swaps the list (a handler that looked
    /// a zone up keeps the `Arc` it found).
    pub zone_rt: ArcSwap<Vec<Arc<ZoneRuntime>>>,
    pub replay: ReplayCache,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// DNS cookie secrets (RFC 7873), shared by UDP and TCP.
    pub cookies: Arc<crate::wire::cookie::Keeper>,
}

/// Per-zone runtime: configuration, the zone loop's queue, the journal.
pub struct ZoneRuntime {
    /// Lower-case wire origin.
    pub origin: Box<[u8]>,
    pub origin_text: String,
    pub update_key: Option<String>,
    pub transfer_key: Option<Arc<tsig::Key>>,
    pub allow_transfer: Vec<ipnet::IpNet>,
    pub allow_notify: Vec<ipnet::IpNet>,
    pub primary: Option<SocketAddr>,
    /// The primary's serial while it is behind ours, with bit 32 set
    /// (0: not behind); written by the zone's loop.
    pub primary_behind: Arc<std::sync::atomic::AtomicU64>,
    /// The zone event loop's queue ([`crate::events`]).
    pub events: mpsc::Sender<Event>,
    pub journal: crate::journal::ZoneJournal,
}

impl ZoneRuntime {
    /// The primary's serial while it is behind ours (RFC 1982).
    pub fn primary_behind(&self) -> Option<u32> {
        let v = self
            .primary_behind
            .load(std::sync::atomic::Ordering::Relaxed);
        (v >> 32 != 0).then_some(v as u32)
    }
}

impl Services {
    /// The zone whose origin is exactly `name` (lower-case wire).
    pub fn zone_rt(&self, name: &[u8]) -> Option<Arc<ZoneRuntime>> {
        self.zone_rt
            .load()
            .iter()
            .find(|z| *z.origin == *name)
            .cloned()
    }

    /// Every zone's runtime, as of now.
    pub fn zones_rt(&self) -> Arc<Vec<Arc<ZoneRuntime>>> {
        self.zone_rt.load_full()
    }

    /// The served version of a zone.
    pub fn served(&self, origin: &[u8]) -> Option<Arc<tldd_zone::Zone>> {
        self.zones
            .load()
            .zones()
            .iter()
            .find(|z| *z.origin == *origin)
            .cloned()
    }
}

/// What to send back.
pub enum Reply {
    None,
    One(Vec<u8>),
    /// Several messages (TCP transfers), produced by a background task.
    Stream(mpsc::Receiver<Vec<u8>>),
}

/// A header-and-question reply with `rc`, signed when the request was.
pub fn error_reply(
    svc: &Services,
    pkt: &[u8],
    q: &Query,
    rc: u16,
    signer: Option<&Verified>,
) -> Vec<u8> {
    error_reply_ede(svc, pkt, q, rc, signer, None)
}

/// [`error_reply`] with an Extended DNS Error (RFC 8914: INFO-CODE and
/// EXTRA-TEXT) when the request had EDNS ([`crate::wire::ede`]).
pub fn error_reply_ede(
    svc: &Services,
    pkt: &[u8],
    q: &Query,
    rc: u16,
    signer: Option<&Verified>,
    ede: Option<(u16, &str)>,
) -> Vec<u8> {
    let mut out = vec![0u8; 512 + q.question_end];
    let n = reply_rcode(pkt, q, &mut out, rc, &svc.params);
    out.truncate(n);
    if let (Some((code, text)), Some(_)) = (ede, q.edns) {
        crate::wire::ede::append(&mut out, q.question_end, code, text);
    }
    if let Some(v) = signer {
        v.signer().sign(&mut out, tsig::now());
    }
    out
}
