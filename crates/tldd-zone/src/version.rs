//! One immutable version of a zone, shaped for a TLD.
//!
//! A TLD is overwhelmingly delegations: NS, maybe DS, maybe glue. So:
//! - **Delegations** live in a hash table keyed by their lower-cased wire
//!   name, split into [`SHARDS`] copy-on-write shards (`Arc<Shard>`). A new
//!   version made by an update clones the shard array (4096 pointers) and
//!   copies only the shards it touches (pointers: delegations are shared
//!   `Arc`s), so versions share everything else
//!   and an update costs microseconds whatever the zone size.
//! - Each delegation keeps its NS RRset, its DS RRset and its glue (the
//!   address records at or below the cut) in a few boxed byte slices.
//! - **The apex** and the few **other authoritative names** (`nic.shop`,
//!   in-zone name-server hosts, empty non-terminals) are general [`Node`]s in
//!   an ordinary map; empty non-terminals are materialised so a lookup can
//!   tell NXDOMAIN from NODATA without scanning.
//!
//! Lookup walks the query name from the apex down, one hash probe per label
//! ([`Zone::find`]), so the cost is O(label count), independent of zone size.
//!
//! RRSIGs ride along with their RRset (`RRset::sigs`), so the signer can add
//! them per RRset and a diff can replace an RRset with its signatures.
use super::name;
pub use super::rrset::{Packed, RRset};
use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::BuildHasher;
use std::sync::Arc;

/// Number of copy-on-write shards of the delegation table.
pub const SHARDS: usize = 4096;

/// The RRsets of one owner name, sorted by type.
#[derive(Clone, Debug, Default)]
pub struct Node {
    pub rrsets: Vec<RRset>,
}

impl Node {
    pub fn get(&self, rtype: u16) -> Option<&RRset> {
        self.rrsets.iter().find(|r| r.rtype == rtype)
    }

    /// Inserts or replaces the RRset of its type.
    pub fn put(&mut self, rrset: RRset) {
        match self.rrsets.binary_search_by_key(&rrset.rtype, |r| r.rtype) {
            Ok(i) => self.rrsets[i] = rrset,
            Err(i) => self.rrsets.insert(i, rrset),
        }
    }

    pub fn remove(&mut self, rtype: u16) -> Option<RRset> {
        let i = self.rrsets.iter().position(|r| r.rtype == rtype)?;
        Some(self.rrsets.remove(i))
    }

    /// An empty non-terminal (or a name whose data was all deleted).
    pub fn is_empty(&self) -> bool {
        self.rrsets.is_empty()
    }
}

/// A zone cut below the apex.
#[derive(Clone, Debug)]
pub struct Delegation {
    /// Lower-cased absolute wire name.
    pub name: Box<[u8]>,
    pub ns: RRset,
    pub ds: Option<Box<RRset>>,
    /// Address records at or below the cut (lower-cased owner, A/AAAA).
    pub glue: Box<[(Box<[u8]>, Node)]>,
}

impl Delegation {
    /// Glue addresses for `host` (lower-case wire), if this cut holds them.
    pub fn glue_for(&self, host: &[u8]) -> Option<&Node> {
        self.glue
            .iter()
            .find(|(n, _)| &**n == host)
            .map(|(_, node)| node)
    }
}

/// One shard of the delegation table.
#[derive(Clone, Default)]
pub struct Shard {
    /// Behind a pointer: a hash table keeps up to twice its length in
    /// slots, and a slot of 8 bytes wastes far less than one of
    /// `size_of::<Delegation>()`. An `Arc` (16 bytes more per delegation
    /// than a `Box`) so that copying a shard for a new version copies
    /// pointers, not every delegation in it.
    table: HashTable<Arc<Delegation>>,
}

/// The delegations of one version.
#[derive(Clone)]
pub struct Delegations {
    shards: Box<[Arc<Shard>]>,
    count: usize,
}

impl Default for Delegations {
    fn default() -> Self {
        let empty = Arc::new(Shard::default());
        Delegations {
            shards: vec![empty; SHARDS].into(),
            count: 0,
        }
    }
}

fn hash(name: &[u8]) -> u64 {
    FxBuildHasher.hash_one(name)
}

/// Shard from the middle bits: hashbrown takes the bucket from the low
/// bits and the 7-bit tag from the top bits, so those must stay varied
/// inside a shard.
fn shard_of(h: u64) -> usize {
    (h >> 32) as usize & (SHARDS - 1)
}

impl Delegations {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The delegation named exactly `name` (lower-case wire).
    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<&Delegation> {
        let h = hash(name);
        self.shards[shard_of(h)]
            .table
            .find(h, |d| &*d.name == name)
            .map(|d| &**d)
    }

    /// Makes room for `n` more delegations spread over the shards (loads).
    pub fn reserve(&mut self, n: usize) {
        let per = n / SHARDS + n / SHARDS / 8 + 1;
        for s in self.shards.iter_mut() {
            Arc::make_mut(s).table.reserve(per, |x| hash(&x.name));
        }
    }

    /// Inserts or replaces; copies the shard if another version shares it.
    pub fn insert(&mut self, d: Delegation) {
        let h = hash(&d.name);
        let shard = Arc::make_mut(&mut self.shards[shard_of(h)]);
        match shard.table.find_mut(h, |x| x.name == d.name) {
            Some(slot) => *slot = Arc::new(d),
            None => {
                shard.table.insert_unique(h, Arc::new(d), |x| hash(&x.name));
                self.count += 1;
            }
        }
    }

    /// Removes the delegation named `name`.
    pub fn remove(&mut self, name: &[u8]) -> Option<Delegation> {
        let h = hash(name);
        let shard = Arc::make_mut(&mut self.shards[shard_of(h)]);
        let entry = shard.table.find_entry(h, |x| &*x.name == name).ok()?;
        self.count -= 1;
        Some(Arc::unwrap_or_clone(entry.remove().0))
    }

    /// All delegations, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Delegation> {
        self.shards
            .iter()
            .flat_map(|s| s.table.iter().map(|d| &**d))
    }

    /// All delegations, in parallel (rayon), shard by shard.
    pub fn par_shards(
        &self,
    ) -> impl rayon::iter::IndexedParallelIterator<Item = impl Iterator<Item = &Delegation>> {
        use rayon::prelude::*;
        self.shards.par_iter().map(|s| s.table.iter().map(|d| &**d))
    }

    /// Calls `f` on every delegation, shard by shard in parallel (rayon),
    /// copying shards another version shares. `f` must not change `name`.
    pub fn par_for_each_shard_mut<F>(&mut self, f: F)
    where
        F: Fn(&mut dyn Iterator<Item = &mut Delegation>) + Sync + Send,
    {
        use rayon::prelude::*;
        self.shards.par_iter_mut().for_each(|s| {
            let shard = Arc::make_mut(s);
            f(&mut shard.table.iter_mut().map(Arc::make_mut));
        });
    }
}

/// One immutable version of a zone.
#[derive(Clone)]
pub struct Zone {
    /// Lower-cased absolute wire origin.
    pub origin: Box<[u8]>,
    pub origin_labels: usize,
    pub apex: Node,
    /// Authoritative names other than the apex, and empty non-terminals.
    pub names: FxHashMap<Box<[u8]>, Node>,
    pub cuts: Delegations,
    /// The NSEC3 chain of a signed version (`None`: unsigned, or NSEC).
    pub nsec3: Option<super::nsec3::Nsec3Chain>,
}

/// Where a query name falls in a zone.
pub enum Found<'z> {
    /// The apex.
    Apex,
    /// An authoritative name (possibly an empty non-terminal).
    Name(&'z Node),
    /// At or below a zone cut; `at_cut` when the name is the cut itself.
    Cut { cut: &'z Delegation, at_cut: bool },
    /// No such name; `encloser_len` is the wire length of the closest
    /// encloser (a suffix of the query name).
    NxDomain { encloser_len: usize },
}

impl Zone {
    pub fn new(origin: &[u8]) -> Zone {
        Zone {
            origin: origin.into(),
            origin_labels: name::label_count(origin),
            apex: Node::default(),
            names: FxHashMap::default(),
            cuts: Delegations::default(),
            nsec3: None,
        }
    }

    /// A zone with a DNSKEY RRset at the apex is served as signed.
    pub fn is_signed(&self) -> bool {
        self.apex.get(super::rdata::DNSKEY).is_some()
    }

    /// The apex SOA RRset.
    pub fn soa(&self) -> Option<&RRset> {
        self.apex.get(super::rdata::SOA)
    }

    pub fn serial(&self) -> u32 {
        self.soa()
            .and_then(|s| s.rdatas().next().and_then(super::rdata::soa_serial))
            .unwrap_or(0)
    }

    /// TTL of the SOA in negative answers: min(SOA TTL, MINIMUM) (RFC 2308 §5).
    pub fn negative_ttl(&self) -> u32 {
        self.soa()
            .map(|s| {
                let min = s
                    .rdatas()
                    .next()
                    .and_then(super::rdata::soa_minimum)
                    .unwrap_or(s.ttl);
                s.ttl.min(min)
            })
            .unwrap_or(0)
    }

    /// Locates `qname` (lower-case wire, at or below the origin).
    /// `labels` are the offsets of the label starts of `qname`.
    #[inline]
    pub fn find<'z>(&'z self, qname: &[u8], labels: &[u8]) -> Found<'z> {
        let rel = labels.len() - self.origin_labels;
        if rel == 0 {
            return Found::Apex;
        }
        let mut encloser_len = self.origin.len();
        for k in 1..=rel {
            let start = labels[rel - k] as usize;
            let suffix = &qname[start..];
            if let Some(cut) = self.cuts.get(suffix) {
                return Found::Cut {
                    cut,
                    at_cut: k == rel,
                };
            }
            match self.names.get(suffix) {
                Some(node) if k == rel => return Found::Name(node),
                Some(_) => encloser_len = suffix.len(),
                None => return Found::NxDomain { encloser_len },
            }
        }
        Found::NxDomain { encloser_len }
    }

    /// Addresses for an in-zone host name (lower-case wire): glue from the
    /// cut that holds it, or authoritative A/AAAA.
    pub fn addresses(&self, host: &[u8]) -> Option<&Node> {
        if !name::is_below_or_at(host, &self.origin) {
            return None;
        }
        let mut labels = [0u8; 128];
        let n = label_offsets(host, &mut labels)?;
        match self.find(host, &labels[..n]) {
            Found::Cut { cut, .. } => cut.glue_for(host),
            Found::Name(node) => Some(node),
            Found::Apex => Some(&self.apex),
            Found::NxDomain { .. } => None,
        }
    }

    /// Records counted by type class, for metrics.
    pub fn record_count(&self) -> usize {
        let node = |n: &Node| n.rrsets.iter().map(RRset::len).sum::<usize>();
        node(&self.apex)
            + self.names.values().map(node).sum::<usize>()
            + self
                .cuts
                .iter()
                .map(|d| {
                    d.ns.len()
                        + d.ds.as_ref().map_or(0, |d| d.len())
                        + d.glue.iter().map(|(_, n)| node(n)).sum::<usize>()
                })
                .sum::<usize>()
    }

    /// Adds `name` and its ancestors below the origin as empty non-terminals
    /// where absent.
    pub fn add_ancestors(&mut self, name: &[u8]) {
        let mut cur = name::parent(name);
        while let Some(n) = cur {
            if n.len() <= self.origin.len() {
                break;
            }
            self.names.entry(n.into()).or_default();
            cur = name::parent(n);
        }
    }
}

/// Writes the offsets of each label start of `name` into `out`; returns the
/// label count (root excluded), or `None` for a malformed name.
#[inline]
pub fn label_offsets(name: &[u8], out: &mut [u8; 128]) -> Option<usize> {
    let mut i = 0usize;
    let mut n = 0;
    while *name.get(i)? != 0 {
        if n >= 127 || i > 255 {
            return None;
        }
        out[n] = i as u8;
        n += 1;
        i += 1 + name[i] as usize;
    }
    Some(n)
}
