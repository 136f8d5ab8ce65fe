//! Rendered answers to domain lookups (Whois and RDAP), reused while they
//! are still what a fresh rendering would give.
//!
//! Design: an entry holds the answer bytes and the records it was made from
//! ([`Deps`]: the domain, its contacts and registrar, as raw committed
//! bytes), and the store's [`Store::generation`] from before they were
//! read. While the store's generation is unchanged nothing was committed,
//! and the entry is used as it is (one atomic load). Otherwise the lookup
//! re-reads those records from sled (a few B-tree gets, no decoding) and
//! uses the entry only if every one is byte-for-byte the same; it then
//! records the generation it checked against. So a change is visible on the
//! very next query after its EPP reply — freshness is exact, not "within
//! the cache lifetime" — and the common case (no commit since) costs no
//! B-tree reads (they were some 15% of the server's CPU per lookup). What depends on
//! the clock is handled too: the `Last update of ... database` time (a fixed
//! 20-byte RFC 3339 string) is rewritten in a copy when the second has
//! changed, and an entry expires when a grace period it shows ends
//! ([`crate::rdds::view::DomainView::stable_until`]).
//!
//! An entry also records a `variant` (RDAP: the request URL its links
//! carry) that must match. Storage is 16 mutex-guarded shards; the cache
//! as a whole holds at most `capacity` entries (counted across shards, so
//! an unevenly hashed shard does not evict while the cache has room), and
//! once full a new entry replaces an arbitrary one of its shard. Misses
//! (unknown names) are not cached.
//!
//! Limits: memory is about the answer size plus the record sizes per entry
//! (some 10 KB for an RDAP domain answer); `[srs.whois] cache_entries = 0`
//! turns the cache off.
use crate::clock::Ts;
use crate::db::{SResult, Store};
use crate::rdds::view::{time, Deps};
use axum::body::Bytes;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const SHARDS: usize = 16;

type Hasher = BuildHasherDefault<rustc_hash::FxHasher>;
type Shard = Mutex<HashMap<Box<str>, Arc<Entry>, Hasher>>;

struct Entry {
    bytes: Bytes,
    /// Offset of the 20-byte time written at `now`.
    time_at: Option<usize>,
    now: Ts,
    stable_until: Ts,
    variant: Box<str>,
    deps: Deps,
    /// The store generation at which `deps` were last seen current.
    generation: AtomicU64,
}

/// One cache (Whois and RDAP each have their own).
pub struct AnswerCache {
    shards: Vec<Shard>,
    capacity: usize,
    /// Entries held, over all shards (changed under a shard's lock).
    held: AtomicUsize,
    /// Marker right before the time to refresh.
    time_mark: &'static [u8],
}

impl AnswerCache {
    /// A cache of at most `capacity` answers (0: none kept) whose time
    /// follows `time_mark`.
    pub fn new(capacity: usize, time_mark: &'static [u8]) -> AnswerCache {
        AnswerCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            capacity,
            held: AtomicUsize::new(0),
            time_mark,
        }
    }

    fn shard(&self, name: &str) -> &Shard {
        let h = Hasher::default().hash_one(name) as usize;
        &self.shards[h % SHARDS]
    }

    /// The current answer for `name` (A-label form) if the cache has one.
    pub fn get(&self, store: &Store, name: &str, variant: &str, now: Ts) -> SResult<Option<Bytes>> {
        if self.capacity == 0 {
            return Ok(None);
        }
        let e = {
            let m = self.shard(name).lock().unwrap_or_else(|p| p.into_inner());
            match m.get(name) {
                Some(e) => e.clone(),
                None => return Ok(None),
            }
        };
        if &*e.variant != variant || now < e.now || now >= e.stable_until {
            return Ok(None);
        }
        let current = store.generation();
        if e.generation.load(Ordering::Relaxed) != current {
            for (key, val) in &e.deps {
                if store.raw(key)? != *val {
                    return Ok(None);
                }
            }
            // read after `current` was taken: current as of `current`
            e.generation.store(current, Ordering::Relaxed);
        }
        Ok(Some(match e.time_at {
            Some(at) if now != e.now => {
                let mut b = e.bytes.to_vec();
                b[at..at + 20].copy_from_slice(time(now).as_bytes());
                Bytes::from(b)
            }
            _ => e.bytes.clone(),
        }))
    }

    /// Keeps `bytes`, the answer for `name` rendered at `now` from `deps`,
    /// which were read after the store was at `generation`.
    pub fn put(
        &self,
        name: &str,
        variant: &str,
        bytes: Bytes,
        (now, generation): (Ts, u64),
        stable_until: Ts,
        deps: Deps,
    ) {
        if self.capacity == 0 {
            return;
        }
        let time_at = find(&bytes, self.time_mark)
            .map(|i| i + self.time_mark.len())
            .filter(|&at| bytes.len() >= at + 20 && bytes[at..at + 20] == *time(now).as_bytes());
        let e = Arc::new(Entry {
            bytes,
            time_at,
            now,
            stable_until,
            variant: variant.into(),
            deps,
            generation: AtomicU64::new(generation),
        });
        let mut m = self.shard(name).lock().unwrap_or_else(|p| p.into_inner());
        if !m.contains_key(name) {
            // counted before it goes in: never more than `capacity` held
            if self.held.fetch_add(1, Ordering::Relaxed) >= self.capacity {
                self.held.fetch_sub(1, Ordering::Relaxed);
                // full: make room in this shard, or keep nothing if it has
                // none to give (the other shards hold the capacity)
                let Some(k) = m.keys().next().cloned() else {
                    return;
                };
                m.remove(&k);
            }
        }
        m.insert(name.into(), e);
    }

    /// Answers held (tests).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_only_while_records_and_time_allow() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "shop", "SHOP").unwrap();
        // any committed record will do: the clock offset is one
        const KEY: &[u8] = b"meta/clock_offset";
        store.advance_clock(store.clock.now() + 1000).unwrap();
        let deps = || -> Deps { vec![(KEY.to_vec(), store.raw(KEY).unwrap())] };
        let c = AnswerCache::new(64, b"at: ");
        let t0 = 1_700_000_000;
        let text = format!("x\r\nat: {} <<<\r\n", time(t0));
        c.put(
            "a.shop",
            "",
            Bytes::from(text.clone()),
            (t0, store.generation()),
            t0 + 100,
            deps(),
        );
        assert_eq!(c.get(&store, "a.shop", "", t0).unwrap().unwrap(), text);
        // another variant, another name: no answer
        assert!(c.get(&store, "a.shop", "v", t0).unwrap().is_none());
        assert!(c.get(&store, "b.shop", "", t0).unwrap().is_none());
        // a later second: same answer with the time refreshed
        let later = c.get(&store, "a.shop", "", t0 + 5).unwrap().unwrap();
        assert_eq!(later, format!("x\r\nat: {} <<<\r\n", time(t0 + 5)));
        // past stable_until: gone
        assert!(c.get(&store, "a.shop", "", t0 + 100).unwrap().is_none());
        // a changed record: gone at once
        store.advance_clock(store.clock.now() + 1000).unwrap();
        assert!(c.get(&store, "a.shop", "", t0).unwrap().is_none());
        // as many names as the capacity: all kept, however they hash
        let c = AnswerCache::new(64, b"at: ");
        for i in 0..64 {
            let name = format!("d{i}.shop");
            c.put(
                &name,
                "",
                Bytes::from(name.clone()),
                (t0, store.generation()),
                Ts::MAX,
                vec![],
            );
        }
        assert_eq!(c.len(), 64);
        for i in 0..64 {
            assert!(
                c.get(&store, &format!("d{i}.shop"), "", t0)
                    .unwrap()
                    .is_some(),
                "d{i}"
            );
        }
        // bounded
        for i in 0..1000 {
            c.put(
                &format!("d{i}.shop"),
                "",
                Bytes::new(),
                (t0, 0),
                Ts::MAX,
                vec![],
            );
        }
        assert_eq!(c.len(), 64);
        assert!(AnswerCache::new(0, b"x").is_empty());
    }

    /// Through the Whois answer path: a cached answer follows changes of
    /// the domain's registrar and contact at once, and a grace period
    /// ending drops its status without any write.
    #[test]
    fn answers_follow_store_changes() {
        use crate::config::rdds::WhoisConfig;
        use crate::model::*;
        use crate::rdds::{reply::answer, Rdds};
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path(), "shop", "SHOP").unwrap());
        let now = store.clock.now();
        let mut reg = Registrar {
            id: "reg-a".into(),
            name: "Registrar A".into(),
            iana_id: 9999,
            password_hash: "x".into(),
            cert_sha256: vec![],
            networks: vec![],
            credit_limit: None,
            balance: 0,
            max_connections: None,
            url: None,
            whois_server: None,
            abuse_email: None,
            abuse_phone: None,
            rdap_url: None,
            contact: Default::default(),
            created: now,
            updated: now,
        };
        let mut con = Contact {
            id: "c1".into(),
            roid: "C1-SHOP".into(),
            postal: vec![PostalInfo {
                kind: "int".into(),
                name: "P".into(),
                org: Some("Org One".into()),
                street: vec![],
                city: "X".into(),
                sp: None,
                pc: None,
                cc: "JP".into(),
            }],
            voice: None,
            fax: None,
            email: "p@example.net".into(),
            auth_pw: "x".into(),
            disclose: None,
            statuses: Default::default(),
            cl_id: "reg-a".into(),
            cr_id: "reg-a".into(),
            cr_date: now,
            up_id: None,
            up_date: None,
            tr_date: None,
        };
        let dom = Domain {
            name: "a.shop".into(),
            roid: "D1-SHOP".into(),
            registrant: Some("c1".into()),
            contacts: vec![],
            ns: vec!["ns1.example.net".into()],
            ds: vec![],
            statuses: Default::default(),
            cl_id: "reg-a".into(),
            cr_id: "reg-a".into(),
            cr_date: now,
            up_id: None,
            up_date: None,
            ex_date: now + 365 * 86400,
            tr_date: None,
            auth_pw: "x".into(),
            grace: vec![Grace {
                kind: GraceKind::Add,
                start: now,
                until: now + 100,
                registrar: "reg-a".into(),
                amount: 0,
                years: 1,
            }],
            rgp: Rgp::Active,
            transfer: None,
        };
        let put = |r: &Registrar, c: &Contact, d: Option<&Domain>| {
            store
                .write(|t| -> SResult<()> {
                    t.put_registrar(r);
                    t.put_contact(c);
                    if let Some(d) = d {
                        t.put_domain(None, d);
                    }
                    Ok(())
                })
                .unwrap()
        };
        put(&reg, &con, Some(&dom));
        let rdds = Rdds::new(
            store.clone(),
            "shop",
            WhoisConfig::default(),
            &prometheus::Registry::new(),
        )
        .unwrap();
        let ask = || String::from_utf8(answer(&rdds, b"a.shop").2.to_vec()).unwrap();
        let t = ask();
        assert!(t.contains("\r\nRegistrar: Registrar A\r\n"), "{t}");
        assert!(t.contains("Domain Status: addPeriod "), "{t}");
        assert_eq!(rdds.whois_cache.len(), 1);
        assert_eq!(ask(), t, "same answer from the cache");
        reg.name = "Registrar B".into();
        put(&reg, &con, None);
        assert!(ask().contains("\r\nRegistrar: Registrar B\r\n"));
        con.postal[0].org = Some("Org Two".into());
        put(&reg, &con, None);
        assert!(ask().contains("\r\nRegistrant Organization: Org Two\r\n"));
        store.advance_clock(now + 101).unwrap();
        let t = ask();
        assert!(!t.contains("addPeriod"), "{t}");
        assert!(t.contains("Domain Status: ok "), "{t}");
    }
}
