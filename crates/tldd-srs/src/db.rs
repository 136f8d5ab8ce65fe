//! The SRS store: every object in one sled tree, written by one writer at a
//! time, durable before any reply goes out.
//!
//! Design:
//! - One tree, key prefixes per object kind (`dom/`, `host/`, `con/`,
//!   `reg/`, `poll/`, `ledger/`, `pubq/`, `meta/`) and index prefixes
//!   (`nsref/host\0domain`: domain delegates to host; `cref/contact\0domain`;
//!   `sub/domain\0host`: subordinate hosts; `due/<time><name>`: the next
//!   time-driven transition of each domain; `lreg/registrar\0id`: ledger by
//!   registrar). Records are [`crate::model`] values.
//! - Writes go through [`Store::write`]: a mutex serialises writers; the
//!   closure reads and writes through a [`Txn`], an overlay over the tree, so
//!   it sees its own writes and nothing is stored if it fails. On success the
//!   overlay becomes one `sled::Batch` (atomic within the tree), and the
//!   DNS-relevant names the transaction touched become one publisher
//!   operation in the same batch: the queue is in commit order by
//!   construction. The batch is then flushed (fsync) outside the mutex, so
//!   concurrent commits share a flush; `write` returns only after it.
//! - Readers ([`Store::read`], the `get_*` methods) need no lock: they see
//!   the last applied batch. This is the read API for Whois and RDAP.
//!
//! Limits: sled 0.34 is beta (see DESIGN.md for the crash test that decides
//! whether the store moves to redb); all writes are serialised, which is
//! ample for an SRS (hundreds of transforms per second) but not more.
use crate::clock::{Clock, Ts};
use crate::model::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A store failure (I/O or a record that does not decode).
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl From<crate::hwm::HwmError> for StoreError {
    fn from(e: crate::hwm::HwmError) -> Self {
        StoreError(e.0)
    }
}

pub type SResult<T> = Result<T, StoreError>;

/// The store, shared by EPP sessions, the lifecycle runner and the publisher.
pub struct Store {
    db: sled::Db,
    tree: sled::Tree,
    write_lock: Mutex<()>,
    tld: String,
    roid_suffix: String,
    pub clock: Clock,
    /// Woken after every commit that queued a DNS change.
    pub publish_notify: Arc<tokio::sync::Notify>,
    /// Woken by the operator (`tldd srs publisher retry|drop`): the
    /// publisher retries at once instead of after its backoff.
    pub publish_retry: Arc<tokio::sync::Notify>,
    /// Set by the publisher while the DNS server refuses the oldest queued
    /// change (what, since when); shown by `status`. Not persisted.
    pub publish_blocked: Mutex<Option<String>>,
    /// Bumped after every change to the tree (see [`Store::generation`]).
    generation: AtomicU64,
    /// Transactions committed (`meta/commits`; [`crate::hwm`]).
    commits: AtomicU64,
    hwm: crate::hwm::Hwm,
}

const META_CLOCK: &[u8] = b"meta/clock_offset";

fn due_key(ts: Ts, name: &str) -> Vec<u8> {
    let mut k = b"due/".to_vec();
    k.extend_from_slice(&((ts as u64) ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    k
}

fn pair(prefix: &str, a: &str, b: &str) -> Vec<u8> {
    format!("{prefix}{a}\0{b}").into_bytes()
}

fn id_key(prefix: &str, id: u64) -> Vec<u8> {
    let mut k = prefix.as_bytes().to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The message for a registry store sled cannot open or read.
fn damaged(path: &Path, detail: &str) -> StoreError {
    StoreError(format!(
        "the registry store {} is damaged ({detail}); nothing was served. \
         `tldd store check {}` reports every file; to recover see README \
         \"When the store is damaged\" (restore srs.sled from the latest backup, \
         then `tldd srs reconcile`)",
        path.display(),
        path.parent()
            .map_or_else(|| "DATA_DIR".into(), |d| d.display().to_string())
    ))
}

/// `tldd store recover --srs-data DIR`: the store in `data_dir` accepted
/// as it is (a restore from a backup), its old mark moved to `aside`.
/// Returns (transactions the old mark vouched for, transactions held).
pub fn accept_as_is(data_dir: &Path, aside: &Path) -> SResult<(Option<u64>, u64)> {
    let path = data_dir.join("srs.sled");
    if !path.exists() {
        return Err(StoreError(format!("{} does not exist", path.display())));
    }
    let opened = tldd_store::guard::catch_quietly(|| -> sled::Result<_> {
        let db = sled::Config::new().path(&path).open()?;
        let tree = db.open_tree("srs")?;
        let commits = tree.get(crate::hwm::META_COMMITS)?;
        Ok(commits.map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8]))))
    });
    let stored = match opened {
        Ok(Ok(c)) => c.unwrap_or(0),
        Ok(Err(e)) => return Err(damaged(&path, &e.to_string())),
        Err(panic) => return Err(damaged(&path, &format!("sled: {panic}"))),
    };
    crate::hwm::accept(data_dir, stored, aside).map_err(|e| {
        StoreError(format!(
            "writing {}: {e}",
            crate::hwm::path(data_dir).display()
        ))
    })
}

impl Store {
    /// Opens (or creates) the store in `data_dir`. A database sled cannot
    /// open, or panics on, is an error naming `srs.sled`, never a panic.
    pub fn open(data_dir: &Path, tld: &str, roid_suffix: &str) -> SResult<Store> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError(format!("cannot create {}: {e}", data_dir.display())))?;
        let path = data_dir.join("srs.sled");
        let existed = path.exists();
        // sled panics on some damaged files instead of answering an error:
        // caught here, so a damaged store is a message, not a crash.
        let opened = tldd_store::guard::catch_quietly(|| -> sled::Result<_> {
            let db = sled::Config::new().path(&path).open()?;
            let tree = db.open_tree("srs")?;
            let clock = tree.get(META_CLOCK)?;
            let commits = tree.get(crate::hwm::META_COMMITS)?;
            Ok((db, tree, clock, commits))
        });
        let (db, tree, clock, commits) = match opened {
            Ok(Ok(v)) => v,
            Ok(Err(sled::Error::Io(e))) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(StoreError(format!(
                    "cannot open {} (is another tldd srs running on it?): {e}",
                    path.display()
                )))
            }
            Ok(Err(e)) => return Err(damaged(&path, &e.to_string())),
            Err(panic) => return Err(damaged(&path, &format!("sled: {panic}"))),
        };
        let commits = commits.map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8])));
        let hwm = crate::hwm::Hwm::open(data_dir, commits, existed)?;
        let offset = match clock {
            Some(v) => i64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8])),
            None => 0,
        };
        Ok(Store {
            db,
            tree,
            write_lock: Mutex::new(()),
            tld: tld.to_string(),
            roid_suffix: roid_suffix.to_string(),
            clock: Clock::new(offset),
            publish_notify: Arc::new(tokio::sync::Notify::new()),
            publish_retry: Arc::new(tokio::sync::Notify::new()),
            publish_blocked: Mutex::new(None),
            generation: AtomicU64::new(0),
            commits: AtomicU64::new(commits.unwrap_or(0)),
            hwm,
        })
    }

    pub fn tld(&self) -> &str {
        &self.tld
    }

    /// Moves the clock forward to `at` and persists the offset.
    pub fn advance_clock(&self, at: Ts) -> SResult<()> {
        let off = self.clock.advance_to(at);
        self.tree.insert(META_CLOCK, &off.to_be_bytes())?;
        self.changed();
        self.db.flush()?;
        Ok(())
    }

    /// Runs `f` as one atomic, durable transaction.
    pub fn write<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Txn) -> Result<R, E>,
    ) -> Result<R, E> {
        let queued = {
            let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
            let mut txn = Txn::new(self);
            let r = f(&mut txn)?;
            let queued = txn.commit()?;
            (r, queued)
        };
        self.db.flush().map_err(StoreError::from)?;
        // Before the reply: the mark vouches for this transaction. A
        // failure is logged, not answered: the transaction is durable, and
        // a registrar told it failed would retry what already happened.
        if let Err(e) = self.hwm.record(queued.1 .1) {
            tracing::error!("{e} (the transaction is durable; the start-up check cannot vouch for it until the mark is written again)");
        }
        if queued.1 .0 {
            self.publish_notify.notify_one();
        }
        Ok(queued.0)
    }

    /// A read-only view of the committed state.
    pub fn read(&self) -> Txn<'_> {
        Txn::new(self)
    }

    pub fn get_domain(&self, name: &str) -> SResult<Option<Domain>> {
        self.read().domain(name)
    }
    pub fn get_host(&self, name: &str) -> SResult<Option<Host>> {
        self.read().host(name)
    }
    pub fn get_contact(&self, id: &str) -> SResult<Option<Contact>> {
        self.read().contact(id)
    }
    pub fn get_registrar(&self, id: &str) -> SResult<Option<Registrar>> {
        self.read().registrar(id)
    }
    /// A number that changes after every change to the committed state, in
    /// this process (the only writer: sled locks its files). Two equal
    /// readings mean nothing was committed in between — readers that keep
    /// something derived from the store (the Whois/RDAP answer cache) use it
    /// to skip re-reading records. It is bumped right after the change is
    /// applied, so before any reply that acknowledges the change.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The committed bytes of one record, neither copied nor decoded: what
    /// the Whois/RDAP answer cache compares to know an answer is current.
    pub fn raw(&self, key: &[u8]) -> SResult<Option<sled::IVec>> {
        Ok(self.tree.get(key)?)
    }
    pub fn registrars(&self) -> SResult<Vec<Registrar>> {
        self.read().scan("reg/", "registrar")
    }
    /// All domains, in name order (for reconcile and tools; O(n)).
    pub fn domains(&self) -> SResult<Vec<Domain>> {
        self.read().scan("dom/", "domain")
    }
    pub fn hosts(&self) -> SResult<Vec<Host>> {
        self.read().scan("host/", "host")
    }
    /// Ledger entries, oldest first, optionally of one registrar.
    pub fn ledger(&self, registrar: Option<&str>) -> SResult<Vec<LedgerEntry>> {
        let all: Vec<LedgerEntry> = self.read().scan("ledger/", "ledger")?;
        Ok(match registrar {
            Some(r) => all.into_iter().filter(|e| e.registrar == r).collect(),
            None => all,
        })
    }

    /// Names whose next transition is due at or before `at`, earliest first.
    pub fn due(&self, at: Ts, limit: usize) -> SResult<Vec<(Ts, String)>> {
        let end = due_key(at, "\u{10ffff}");
        let mut out = Vec::new();
        for kv in self.tree.range(b"due/".to_vec()..end) {
            let (k, _) = kv?;
            if k.len() < 12 {
                continue;
            }
            let ts = (u64::from_be_bytes(k[4..12].try_into().expect("8 bytes")) ^ (1 << 63)) as i64;
            out.push((ts, String::from_utf8_lossy(&k[12..]).into_owned()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The oldest queued publisher operations.
    pub fn queue_peek(&self, n: usize) -> SResult<Vec<PubOp>> {
        let mut out = Vec::new();
        for kv in self.tree.scan_prefix(b"pubq/").take(n) {
            let (_, v) = kv?;
            out.push(decode("publisher", &v).map_err(StoreError)?);
        }
        Ok(out)
    }

    /// Removes acknowledged operations.
    pub fn queue_remove(&self, ids: &[u64]) -> SResult<()> {
        let mut b = sled::Batch::default();
        for id in ids {
            b.remove(id_key("pubq/", *id));
        }
        self.tree.apply_batch(b)?;
        self.changed();
        self.db.flush()?;
        Ok(())
    }

    pub fn queue_len(&self) -> usize {
        self.tree.scan_prefix(b"pubq/").count()
    }

    /// The wanted DNS data at every owner name the SRS manages (reconcile).
    pub fn wanted_zone(&self) -> SResult<BTreeMap<String, OwnerSet>> {
        let r = self.read();
        let mut out = BTreeMap::new();
        for d in self.domains()? {
            let set = r.owner_set(&d.name)?;
            if !set.is_empty() {
                out.insert(d.name.clone(), set.normalized());
            }
        }
        for h in self.hosts()? {
            let set = r.owner_set(&h.name)?;
            if !set.is_empty() {
                out.insert(h.name.clone(), set.normalized());
            }
        }
        Ok(out)
    }
}

/// A transaction (or, from [`Store::read`], a read-only view).
pub struct Txn<'s> {
    store: &'s Store,
    overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    touched: BTreeSet<String>,
    /// Domains whose delegation changed: their subordinate hosts are
    /// republished with them (glue follows its delegation).
    touched_domains: BTreeSet<String>,
    /// Explicit owner sets to publish (reconcile repairs).
    extra_owners: Vec<OwnerSet>,
}

impl<'s> Txn<'s> {
    fn new(store: &'s Store) -> Txn<'s> {
        Txn {
            store,
            overlay: BTreeMap::new(),
            touched: BTreeSet::new(),
            touched_domains: BTreeSet::new(),
            extra_owners: Vec::new(),
        }
    }

    pub fn now(&self) -> Ts {
        self.store.clock.now()
    }
    pub fn tld(&self) -> &str {
        &self.store.tld
    }
    /// A fresh repository object ID.
    pub fn new_roid(&self, kind: char) -> SResult<String> {
        Ok(format!(
            "{}{:X}-{}",
            kind,
            self.store.db.generate_id()?,
            self.store.roid_suffix
        ))
    }
    pub fn next_id(&self) -> SResult<u64> {
        Ok(self.store.db.generate_id()? + 1)
    }

    fn raw_get(&self, key: &[u8]) -> SResult<Option<Vec<u8>>> {
        if let Some(v) = self.overlay.get(key) {
            return Ok(v.clone());
        }
        Ok(self.store.tree.get(key)?.map(|v| v.to_vec()))
    }
    fn raw_put(&mut self, key: Vec<u8>, val: Vec<u8>) {
        self.overlay.insert(key, Some(val));
    }
    fn raw_del(&mut self, key: Vec<u8>) {
        self.overlay.insert(key, None);
    }
    fn raw_scan(&self, prefix: &[u8]) -> SResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut map: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for kv in self.store.tree.scan_prefix(prefix) {
            let (k, v) = kv?;
            map.insert(k.to_vec(), v.to_vec());
        }
        for (k, v) in self.overlay.range(prefix.to_vec()..) {
            if !k.starts_with(prefix) {
                break;
            }
            match v {
                Some(v) => map.insert(k.clone(), v.clone()),
                None => map.remove(k),
            };
        }
        Ok(map.into_iter().collect())
    }
    fn get<T: serde::de::DeserializeOwned>(&self, what: &str, key: &[u8]) -> SResult<Option<T>> {
        match self.raw_get(key)? {
            Some(v) => decode(what, &v).map(Some).map_err(StoreError),
            None => Ok(None),
        }
    }
    fn scan<T: serde::de::DeserializeOwned>(&self, prefix: &str, what: &str) -> SResult<Vec<T>> {
        self.raw_scan(prefix.as_bytes())?
            .into_iter()
            .map(|(_, v)| decode(what, &v).map_err(StoreError))
            .collect()
    }
    /// Second halves of `prefix a \0 b` index keys.
    fn index(&self, prefix: &str, a: &str) -> SResult<Vec<String>> {
        let p = format!("{prefix}{a}\0");
        Ok(self
            .raw_scan(p.as_bytes())?
            .into_iter()
            .map(|(k, _)| String::from_utf8_lossy(&k[p.len()..]).into_owned())
            .collect())
    }

    // --- registrars ---
    pub fn registrar(&self, id: &str) -> SResult<Option<Registrar>> {
        self.get("registrar", format!("reg/{id}").as_bytes())
    }
    pub fn put_registrar(&mut self, r: &Registrar) {
        self.raw_put(format!("reg/{}", r.id).into_bytes(), encode(r));
    }

    // --- contacts ---
    pub fn contact(&self, id: &str) -> SResult<Option<Contact>> {
        self.get("contact", format!("con/{id}").as_bytes())
    }
    pub fn put_contact(&mut self, c: &Contact) {
        self.raw_put(format!("con/{}", c.id).into_bytes(), encode(c));
    }
    pub fn del_contact(&mut self, id: &str) {
        self.raw_del(format!("con/{id}").into_bytes());
    }
    /// Domains that use the contact (registrant or other role).
    pub fn contact_links(&self, id: &str) -> SResult<Vec<String>> {
        self.index("cref/", id)
    }

    // --- hosts ---
    pub fn host(&self, name: &str) -> SResult<Option<Host>> {
        self.get("host", format!("host/{name}").as_bytes())
    }
    /// Stores a host; `old` is its previous state (None when created).
    pub fn put_host(&mut self, old: Option<&Host>, h: &Host) {
        let in_zone = crate::names::in_tld(&h.name, &self.store.tld);
        if in_zone && old.map(|o| &o.addrs) != Some(&h.addrs) {
            self.touched.insert(h.name.clone());
        }
        if old.is_none() {
            if let Some(sup) = self.superordinate(&h.name) {
                self.raw_put(pair("sub/", &sup, &h.name), Vec::new());
            }
        }
        self.raw_put(format!("host/{}", h.name).into_bytes(), encode(h));
    }
    pub fn del_host(&mut self, h: &Host) {
        if let Some(sup) = self.superordinate(&h.name) {
            self.raw_del(pair("sub/", &sup, &h.name));
        }
        if crate::names::in_tld(&h.name, &self.store.tld) {
            self.touched.insert(h.name.clone());
        }
        self.raw_del(format!("host/{}", h.name).into_bytes());
    }
    /// Domains delegating to the host.
    pub fn host_links(&self, name: &str) -> SResult<Vec<String>> {
        self.index("nsref/", name)
    }
    /// Hosts whose superordinate domain is `domain`.
    pub fn subordinates(&self, domain: &str) -> SResult<Vec<String>> {
        self.index("sub/", domain)
    }
    /// The registry domain a host name is under, if it is in the TLD.
    pub fn superordinate(&self, host: &str) -> Option<String> {
        crate::names::superordinate(host, &self.store.tld)
    }

    // --- domains ---
    pub fn domain(&self, name: &str) -> SResult<Option<Domain>> {
        self.get("domain", format!("dom/{name}").as_bytes())
    }
    /// Stores a domain, keeping the indexes and the publisher in step.
    pub fn put_domain(&mut self, old: Option<&Domain>, d: &Domain) {
        self.unindex_domain(old);
        for h in &d.ns {
            self.raw_put(pair("nsref/", h, &d.name), Vec::new());
        }
        for c in domain_contacts(d) {
            self.raw_put(pair("cref/", &c, &d.name), Vec::new());
        }
        if let Some(t) = d.next_due() {
            self.raw_put(due_key(t, &d.name), Vec::new());
        }
        let dns_changed = match old {
            None => d.in_zone(),
            Some(o) => {
                o.in_zone() != d.in_zone() || (d.in_zone() && (o.ns != d.ns || o.ds != d.ds))
            }
        };
        if dns_changed {
            self.touch_delegation(old, Some(d));
        }
        self.raw_put(format!("dom/{}", d.name).into_bytes(), encode(d));
    }
    /// Removes a domain (purge); its subordinate hosts must be gone already.
    pub fn del_domain(&mut self, d: &Domain) {
        self.unindex_domain(Some(d));
        if d.in_zone() {
            self.touch_delegation(Some(d), None);
        }
        self.raw_del(format!("dom/{}", d.name).into_bytes());
    }
    fn unindex_domain(&mut self, old: Option<&Domain>) {
        let Some(o) = old else { return };
        for h in &o.ns {
            self.raw_del(pair("nsref/", h, &o.name));
        }
        for c in domain_contacts(o) {
            self.raw_del(pair("cref/", &c, &o.name));
        }
        if let Some(t) = o.next_due() {
            self.raw_del(due_key(t, &o.name));
        }
    }
    /// Removes one `due/` index entry (stale entries only).
    pub fn drop_due(&mut self, ts: Ts, name: &str) {
        self.raw_del(due_key(ts, name));
    }
    fn touch_delegation(&mut self, old: Option<&Domain>, new: Option<&Domain>) {
        let tld = self.store.tld.clone();
        for d in old.into_iter().chain(new) {
            self.touched.insert(d.name.clone());
            self.touched_domains.insert(d.name.clone());
            for h in &d.ns {
                if crate::names::in_tld(h, &tld) {
                    self.touched.insert(h.clone());
                }
            }
        }
    }

    // --- poll queue ---
    /// Queues a message for `registrar`, dated now (an EPP command's
    /// consequence).
    pub fn add_poll(
        &mut self,
        registrar: &str,
        msg: &str,
        payload: Option<PollPayload>,
    ) -> SResult<()> {
        let now = self.now();
        self.add_poll_at(registrar, msg, payload, now)
    }

    /// Queues a message dated `q_date`: for a lifecycle transition, the
    /// instant it fell due, not when the runner got to it (RFC 5730
    /// `qDate`: when the message was enqueued, i.e. when the event
    /// happened).
    pub fn add_poll_at(
        &mut self,
        registrar: &str,
        msg: &str,
        payload: Option<PollPayload>,
        q_date: Ts,
    ) -> SResult<()> {
        let m = PollMsg {
            id: self.next_id()?,
            registrar: registrar.to_string(),
            q_date,
            msg: msg.to_string(),
            payload,
        };
        self.raw_put(id_key(&format!("poll/{registrar}\0"), m.id), encode(&m));
        Ok(())
    }
    /// The registrar's queue, oldest first.
    pub fn polls(&self, registrar: &str) -> SResult<Vec<PollMsg>> {
        self.scan(&format!("poll/{registrar}\0"), "poll")
    }
    pub fn del_poll(&mut self, registrar: &str, id: u64) {
        self.raw_del(id_key(&format!("poll/{registrar}\0"), id));
    }

    // --- ledger ---
    /// Records a charge (> 0) or credit (< 0) and updates the balance.
    pub fn ledger(
        &mut self,
        at: Ts,
        registrar: &str,
        kind: LedgerKind,
        object: &str,
        years: u32,
        amount: i64,
    ) -> SResult<()> {
        let mut r = self
            .registrar(registrar)?
            .ok_or_else(|| StoreError(format!("ledger: no registrar {registrar:?}")))?;
        r.balance -= amount;
        let e = LedgerEntry {
            id: self.next_id()?,
            at,
            registrar: registrar.to_string(),
            kind,
            object: object.to_string(),
            years,
            amount,
            balance: r.balance,
        };
        self.raw_put(id_key("ledger/", e.id), encode(&e));
        self.put_registrar(&r);
        Ok(())
    }

    // --- publisher ---
    /// Queues an explicit repair for one owner name.
    pub fn publish_owner(&mut self, set: OwnerSet) {
        self.extra_owners.push(set);
    }

    /// What the zone should hold at `name` given the (uncommitted) state.
    ///
    /// A host's addresses are published (as glue) only while a delegated
    /// domain uses it *and* its own registry domain is delegated: an
    /// address record outside every delegation would be authoritative data
    /// of the TLD, which the server refuses (and should). So a host under a
    /// domain without NS, on hold or in redemption is no glue, and the glue
    /// leaves in the same update as its delegation.
    pub fn owner_set(&self, name: &str) -> SResult<OwnerSet> {
        let mut set = OwnerSet {
            name: name.to_string(),
            ..Default::default()
        };
        if let Some(d) = self.domain(name)? {
            if d.in_zone() {
                set.ns = d.ns.clone();
                set.ds = d.ds.clone();
            }
        }
        if crate::names::in_tld(name, &self.store.tld) {
            let sup_in_zone = match self.superordinate(name) {
                Some(sup) => self.domain(&sup)?.is_some_and(|d| d.in_zone()),
                None => false,
            };
            if let Some(h) = self.host(name)?.filter(|_| sup_in_zone) {
                if !h.addrs.is_empty() {
                    let mut needed = false;
                    for dn in self.host_links(name)? {
                        if self.domain(&dn)?.is_some_and(|d| d.in_zone()) {
                            needed = true;
                            break;
                        }
                    }
                    if needed {
                        set.addrs = h.addrs.clone();
                    }
                }
            }
        }
        Ok(set)
    }

    /// Applies the overlay as one batch; returns whether a publisher
    /// operation was queued, and the transaction's number (the store's
    /// commit counter, see [`crate::hwm`]).
    fn commit(mut self) -> SResult<(bool, u64)> {
        let mut owners = std::mem::take(&mut self.extra_owners);
        for d in std::mem::take(&mut self.touched_domains) {
            for h in self.subordinates(&d)? {
                self.touched.insert(h);
            }
        }
        for name in std::mem::take(&mut self.touched) {
            owners.push(self.owner_set(&name)?);
        }
        // only names below the TLD can be published (an update for any
        // other name would be refused forever and block the queue)
        owners.retain(|o| crate::names::in_tld(&o.name, &self.store.tld));
        let queued = !owners.is_empty();
        if queued {
            let op = PubOp {
                id: self.next_id()?,
                queued: self.now(),
                owners,
            };
            self.raw_put(id_key("pubq/", op.id), encode(&op));
        }
        let mut batch = sled::Batch::default();
        for (k, v) in std::mem::take(&mut self.overlay) {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        let n = self.store.commits.load(Ordering::Acquire) + 1;
        batch.insert(crate::hwm::META_COMMITS, &n.to_be_bytes());
        self.store.tree.apply_batch(batch)?;
        self.store.commits.store(n, Ordering::Release);
        self.store.changed();
        Ok((queued, n))
    }
}

/// Contact handles a domain refers to (registrant first), deduplicated.
fn domain_contacts(d: &Domain) -> BTreeSet<String> {
    d.registrant
        .iter()
        .cloned()
        .chain(d.contacts.iter().map(|(_, c)| c.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(name: &str, ns: &[&str]) -> Domain {
        Domain {
            name: name.into(),
            roid: "D1-SHOP".into(),
            registrant: Some("c1".into()),
            contacts: vec![(ContactType::Admin, "c2".into())],
            ns: ns.iter().map(|s| s.to_string()).collect(),
            ds: vec![],
            statuses: Default::default(),
            cl_id: "r1".into(),
            cr_id: "r1".into(),
            cr_date: 0,
            up_id: None,
            up_date: None,
            ex_date: 1000,
            tr_date: None,
            auth_pw: "x".into(),
            grace: vec![],
            rgp: Rgp::Active,
            transfer: None,
        }
    }

    #[test]
    fn indexes_follow_writes_and_failed_txn_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), "shop", "SHOP").unwrap();
        let d = domain("a.shop", &["ns1.a.shop", "ns.example.net"]);
        s.write(|t| -> SResult<()> {
            t.put_domain(None, &d);
            Ok(())
        })
        .unwrap();
        let r = s.read();
        assert_eq!(r.host_links("ns1.a.shop").unwrap(), vec!["a.shop"]);
        assert_eq!(r.contact_links("c2").unwrap(), vec!["a.shop"]);
        assert_eq!(s.due(1000, 10).unwrap(), vec![(1000, "a.shop".to_string())]);
        assert!(s.due(999, 10).unwrap().is_empty());
        // in zone => queued for publication, with glue for the in-TLD host
        let q = s.queue_peek(10).unwrap();
        assert_eq!(q.len(), 1);
        assert!(q[0]
            .owners
            .iter()
            .any(|o| o.name == "a.shop" && o.ns.len() == 2));
        assert!(q[0].owners.iter().any(|o| o.name == "ns1.a.shop"));

        let mut d2 = d.clone();
        d2.ns = vec!["ns.example.net".into()];
        d2.ex_date = 2000;
        let err: Result<(), StoreError> = s.write(|t| {
            t.put_domain(Some(&d), &d2);
            Err(StoreError("abort".into()))
        });
        assert!(err.is_err());
        assert_eq!(s.read().host_links("ns1.a.shop").unwrap(), vec!["a.shop"]);
        s.write(|t| -> SResult<()> {
            t.put_domain(Some(&d), &d2);
            Ok(())
        })
        .unwrap();
        assert!(s.read().host_links("ns1.a.shop").unwrap().is_empty());
        assert_eq!(s.due(5000, 10).unwrap(), vec![(2000, "a.shop".to_string())]);
        s.write(|t| -> SResult<()> {
            t.del_domain(&d2);
            Ok(())
        })
        .unwrap();
        assert!(s.get_domain("a.shop").unwrap().is_none());
        assert!(s.due(5000, 10).unwrap().is_empty());
        assert!(s.read().contact_links("c1").unwrap().is_empty());
    }

    #[test]
    fn negative_times_sort_before_positive_in_due_index() {
        assert!(due_key(-5, "a") < due_key(5, "a"));
        assert!(due_key(5, "z") < due_key(6, "a"));
    }
}
