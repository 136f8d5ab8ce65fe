//! Building a [`Zone`] from records, with the semantic checks behind
//! `tldd zone check`.
//!
//! Records first go into one flat arena (owner and RDATA bytes plus a small
//! fixed-size entry each). Then: find the cuts (non-apex owners with NS),
//! give each record a bucket (apex, a cut id, or "other authoritative name")
//! with at most one hash probe per label, sort the entries by bucket, and
//! build each delegation from its contiguous run. No per-record allocation,
//! no `Record` objects, memory returned to the OS at the end.
use super::name;
use super::progress::{Progress, Unit};
use super::rdata::{self, A, AAAA, CNAME, DS, NS, NSEC, NSEC3, RRSIG, SOA};
use super::text::{self, TextRecord};
use super::version::{Delegation, Node, RRset, Zone};
use rustc_hash::FxHashMap;
use std::path::Path;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding of the checker, with the line it is about.
#[derive(Debug, Clone)]
pub struct Problem {
    pub line: u32,
    pub severity: Severity,
    pub message: String,
}

/// A loaded zone and what was found on the way.
pub struct Loaded {
    pub zone: Zone,
    pub problems: Vec<Problem>,
    pub records: usize,
}

/// Errors that stop a load.
/// Why records cannot become a servable zone (everything else is a
/// [`Problem`] reported beside the zone).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("no SOA record at the apex {0}")]
    NoSoa(String),
    #[error("no NS records at the apex {0}")]
    NoNs(String),
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Parse(#[from] text::ParseError),
    #[error("{file}: {message}")]
    Zone { file: String, message: String },
}

#[derive(Clone, Copy)]
struct Entry {
    bucket: u32,
    owner: u32,
    owner_len: u8,
    rtype: u16,
    ttl: u32,
    rd: u32,
    rd_len: u16,
    line: u32,
}

const APEX: u32 = u32::MAX;
const OTHER: u32 = u32::MAX - 1;
const OUTSIDE: u32 = u32::MAX - 2;
/// NSEC3 records and their RRSIGs (a pre-signed zone): the chain, not names.
const NSEC3_CHAIN: u32 = u32::MAX - 3;

/// Problems and unnamed glue found while building part of a zone.
#[derive(Default)]
struct Findings {
    problems: Vec<Problem>,
    /// Address records below cuts, to check that some NS names them.
    glue_lines: Vec<(Box<[u8]>, u16, u32)>,
}

impl Findings {
    fn problem(&mut self, line: u32, severity: Severity, message: String) {
        self.problems.push(Problem {
            line,
            severity,
            message,
        });
    }
}

/// Collects records, then builds the zone.
pub struct Builder {
    origin: Vec<u8>,
    arena: Vec<u8>,
    entries: Vec<Entry>,
    found: Findings,
}

impl Builder {
    pub fn new(origin: &[u8]) -> Builder {
        Builder {
            origin: origin.to_vec(),
            arena: Vec::new(),
            entries: Vec::new(),
            found: Findings::default(),
        }
    }

    /// Room for about `records` records of `bytes` owner+RDATA bytes in
    /// all, so a large load does not grow (copy, fault in) its arena and
    /// entry list step by step. Untouched capacity costs address space only.
    pub fn reserve(&mut self, records: usize, bytes: usize) {
        self.entries.reserve(records);
        self.arena.reserve(bytes);
    }

    /// Adds one record (owner lower-case wire).
    pub fn add(&mut self, line: u32, owner: &[u8], rtype: u16, class: u16, ttl: u32, rd: &[u8]) {
        if class != 1 {
            self.problem(
                line,
                Severity::Error,
                format!("class {class} record in an IN zone (ignored)"),
            );
            return;
        }
        let bucket = if name::is_below_or_at(owner, &self.origin) {
            0
        } else {
            OUTSIDE
        };
        if bucket == OUTSIDE {
            self.problem(
                line,
                Severity::Error,
                format!("{} is outside the zone (ignored)", name::to_text(owner)),
            );
            return;
        }
        if self.arena.len() > u32::MAX as usize - 70000 {
            self.problem(
                line,
                Severity::Error,
                "zone too large for one store version".into(),
            );
            return;
        }
        let o = self.arena.len() as u32;
        self.arena.extend_from_slice(owner);
        let r = self.arena.len() as u32;
        self.arena.extend_from_slice(rd);
        self.entries.push(Entry {
            bucket,
            owner: o,
            owner_len: owner.len() as u8,
            rtype,
            ttl,
            rd: r,
            rd_len: rd.len() as u16,
            line,
        });
    }

    /// Takes over the records of `other`, which were read after ours.
    pub fn append(&mut self, other: Builder) {
        let base = self.arena.len() as u64;
        if base + other.arena.len() as u64 > u32::MAX as u64 - 70000 {
            self.problem(
                other.entries.first().map_or(0, |e| e.line),
                Severity::Error,
                "zone too large for one store version".into(),
            );
            return;
        }
        let base = base as u32;
        self.arena.extend_from_slice(&other.arena);
        self.entries.extend(other.entries.iter().map(|e| Entry {
            owner: e.owner + base,
            rd: e.rd + base,
            ..*e
        }));
        self.absorb(other.found);
    }

    fn problem(&mut self, line: u32, severity: Severity, message: String) {
        self.found.problem(line, severity, message);
    }

    fn owner(&self, e: &Entry) -> &[u8] {
        &self.arena[e.owner as usize..e.owner as usize + e.owner_len as usize]
    }

    fn rdata(&self, e: &Entry) -> &[u8] {
        &self.arena[e.rd as usize..e.rd as usize + e.rd_len as usize]
    }

    /// Classifies and builds. Fails only when the zone cannot be served
    /// (no SOA or NS at the apex); other problems are reported.
    pub fn build(mut self) -> Result<Loaded, BuildError> {
        let origin = self.origin.clone();
        // Cuts: non-apex owners of NS.
        let ns_count = self.entries.iter().filter(|e| e.rtype == NS).count();
        let mut cut_ids: FxHashMap<&[u8], u32> =
            FxHashMap::with_capacity_and_hasher(ns_count, Default::default());
        for e in &self.entries {
            if e.rtype == NS {
                let o = &self.arena[e.owner as usize..e.owner as usize + e.owner_len as usize];
                if o != origin.as_slice() {
                    let next = cut_ids.len() as u32;
                    cut_ids.entry(o).or_insert(next);
                }
            }
        }
        // Buckets: the topmost cut at or above the owner wins (in parallel:
        // the cut table is only read).
        let origin_labels = name::label_count(&origin);
        let arena = &self.arena;
        let buckets: Vec<u32> = {
            use rayon::prelude::*;
            self.entries
                .par_iter()
                .map(|e| {
                    let o = &arena[e.owner as usize..e.owner as usize + e.owner_len as usize];
                    let mut labels = [0u8; 128];
                    let n = super::version::label_offsets(o, &mut labels).unwrap_or(0);
                    let rel = n.saturating_sub(origin_labels);
                    let mut b = if rel == 0 { APEX } else { OTHER };
                    // NSEC3 records (and their RRSIGs) of a pre-signed zone
                    // form the chain, not ordinary names.
                    let covers_nsec3 = || {
                        let rd = &arena[e.rd as usize..e.rd as usize + e.rd_len as usize];
                        rd.len() >= 2 && u16::from_be_bytes([rd[0], rd[1]]) == NSEC3
                    };
                    if rel == 1 && (e.rtype == NSEC3 || (e.rtype == RRSIG && covers_nsec3())) {
                        return NSEC3_CHAIN;
                    }
                    for k in 1..=rel {
                        if let Some(&id) = cut_ids.get(&o[labels[rel - k] as usize..]) {
                            b = id;
                            break;
                        }
                    }
                    b
                })
                .collect()
        };
        let cut_count = cut_ids.len();
        drop(cut_ids);
        for (e, b) in self.entries.iter_mut().zip(buckets) {
            e.bucket = b;
        }
        let mut entries = std::mem::take(&mut self.entries);
        // Group by bucket, then owner, then type; stable keeps file order in an RRset.
        {
            use rayon::slice::ParallelSliceMut;
            let arena = &self.arena;
            let owner =
                |e: &Entry| &arena[e.owner as usize..e.owner as usize + e.owner_len as usize];
            entries.par_sort_by(|a, b| {
                a.bucket
                    .cmp(&b.bucket)
                    .then_with(|| owner(a).cmp(owner(b)))
                    .then(a.rtype.cmp(&b.rtype))
            });
        }
        let records = entries.len();
        let mut zone = Zone::new(&origin);
        zone.cuts.reserve(cut_count);
        let mut i = 0;
        let mut chain_run = 0..0;
        let mut cut_runs = Vec::with_capacity(cut_count);
        while i < entries.len() {
            let b = entries[i].bucket;
            let mut j = i;
            while j < entries.len() && entries[j].bucket == b {
                j += 1;
            }
            match b {
                APEX | OTHER => self.build_names(&mut zone, &entries[i..j]),
                NSEC3_CHAIN => chain_run = i..j,
                _ => cut_runs.push(i..j),
            }
            i = j;
        }
        // Delegations are built on all cores, then inserted in order.
        let built: Vec<(Option<Delegation>, Findings)> = {
            use rayon::prelude::*;
            let this = &self;
            cut_runs
                .par_iter()
                .map(|r| {
                    let mut found = Findings::default();
                    (this.build_cut(&entries[r.clone()], &mut found), found)
                })
                .collect()
        };
        for (d, found) in built {
            self.absorb(found);
            if let Some(d) = d {
                zone.add_ancestors(&d.name);
                zone.cuts.insert(d);
            }
        }
        if !chain_run.is_empty() {
            self.build_nsec3(&mut zone, &entries[chain_run]);
        }
        self.check_apex(&zone, &entries)?;
        self.check_ns_targets(&zone);
        tracing::debug!(cuts = cut_count, records, "zone built");
        self.found.problems.sort_by_key(|p| p.line);
        Ok(Loaded {
            zone,
            problems: self.found.problems,
            records,
        })
    }

    /// Splits a run of entries into per-owner, per-type RRsets.
    fn rrsets<'e>(&self, run: &'e [Entry], found: &mut Findings) -> Vec<(&'e Entry, RRset)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < run.len() {
            let mut j = i;
            while j < run.len()
                && run[j].rtype == run[i].rtype
                && self.owner(&run[j]) == self.owner(&run[i])
            {
                j += 1;
            }
            let ttl = run[i].ttl;
            // RRSIGs of one owner cover different RRsets: their TTLs differ.
            if let Some(e) = run[i..j].iter().find(|e| e.ttl != ttl && e.rtype != RRSIG) {
                found.problem(
                    e.line,
                    Severity::Warning,
                    format!(
                        "TTL {} differs from {} of the same {} RRset (line {}); using {ttl}",
                        e.ttl,
                        ttl,
                        rdata::type_name(e.rtype),
                        run[i].line
                    ),
                );
            }
            let rds: Vec<&[u8]> = run[i..j].iter().map(|e| self.rdata(e)).collect();
            if run[i].rtype == RRSIG {
                // RRSIGs are grouped by covered type below.
                for (k, e) in run[i..j].iter().enumerate() {
                    out.push((e, RRset::new(RRSIG, e.ttl, &rds[k..k + 1])));
                }
            } else {
                out.push((&run[i], RRset::new(run[i].rtype, ttl, &rds)));
            }
            i = j;
        }
        out
    }

    fn build_names(&mut self, zone: &mut Zone, run: &[Entry]) {
        let mut found = Findings::default();
        let sets = self.rrsets(run, &mut found);
        self.absorb(found);
        let mut i = 0;
        while i < sets.len() {
            let owner = self.owner(sets[i].0).to_vec();
            let mut j = i;
            while j < sets.len() && self.owner(sets[j].0) == owner.as_slice() {
                j += 1;
            }
            let mut node = Node::default();
            let mut sigs: Vec<(u16, Vec<u8>)> = Vec::new();
            for (e, set) in &sets[i..j] {
                if set.rtype == RRSIG {
                    let rd = self.rdata(e);
                    if rd.len() >= 2 {
                        sigs.push((u16::from_be_bytes([rd[0], rd[1]]), rd.to_vec()));
                    }
                } else {
                    node.put(set.clone());
                }
            }
            attach_sigs(&mut node, &sigs);
            let has_cname = node.get(CNAME).is_some();
            if has_cname
                && node
                    .rrsets
                    .iter()
                    .any(|r| !matches!(r.rtype, CNAME | NSEC | NSEC3))
            {
                let line = sets[i..j].iter().map(|(e, _)| e.line).max().unwrap_or(0);
                self.problem(
                    line,
                    Severity::Error,
                    format!("CNAME and other data at {}", name::to_text(&owner)),
                );
            }
            if owner == *zone.origin {
                zone.apex = node;
            } else {
                if node.get(SOA).is_some() {
                    self.problem(sets[i].0.line, Severity::Error, "SOA below the apex".into());
                }
                if node.get(DS).is_some() {
                    self.problem(
                        sets[i].0.line,
                        Severity::Error,
                        format!("DS at {} which is not a delegation", name::to_text(&owner)),
                    );
                }
                zone.add_ancestors(&owner);
                zone.names.insert(owner.into(), node);
            }
            i = j;
        }
    }

    /// The delegation of one cut's run of entries (None: no NS at the cut).
    /// Read-only on the builder, so cuts are built in parallel.
    fn build_cut(&self, run: &[Entry], found: &mut Findings) -> Option<Delegation> {
        let sets = self.rrsets(run, found);
        // The cut is the shortest owner of the run (sorted: it may not be first).
        let cut_entry = run
            .iter()
            .filter(|e| e.rtype == NS)
            .min_by_key(|e| e.owner_len)?;
        let cut = self.owner(cut_entry).to_vec();
        let mut ns = None;
        let mut ds = None;
        let mut glue: Vec<(Box<[u8]>, Node)> = Vec::new();
        let mut glue_first: Vec<(u32, u16)> = Vec::new();
        let mut sigs: Vec<(u16, Vec<u8>)> = Vec::new();
        for (e, set) in sets {
            let owner = self.owner(e).to_vec();
            let at_cut = owner == cut;
            match set.rtype {
                NS if at_cut => ns = Some(set),
                DS if at_cut => ds = Some(Box::new(set)),
                RRSIG if at_cut => {
                    let rd = self.rdata(e);
                    if rd.len() >= 2 {
                        sigs.push((u16::from_be_bytes([rd[0], rd[1]]), rd.to_vec()));
                    }
                }
                NSEC if at_cut => {}
                A | AAAA => match glue.iter_mut().find(|(n, _)| **n == *owner) {
                    Some((_, node)) => node.put(set),
                    None => {
                        let mut node = Node::default();
                        node.put(set);
                        glue_first.push((e.line, set_rtype_of(&node)));
                        glue.push((owner.into(), node));
                    }
                },
                RRSIG | NSEC => {}
                t => found.problem(
                    e.line,
                    Severity::Error,
                    format!(
                        "{} {} is {} the delegation {} and not glue (occluded, ignored)",
                        name::to_text(&owner),
                        rdata::type_name(t),
                        if at_cut { "at" } else { "below" },
                        name::to_text(&cut)
                    ),
                ),
            }
        }
        let ns = ns?;
        if let Some(ds) = ds.as_mut() {
            let s: Vec<&[u8]> = sigs
                .iter()
                .filter(|(t, _)| *t == DS)
                .map(|(_, s)| s.as_slice())
                .collect();
            ds.set_sigs(&s);
        }
        // In-bailiwick targets need glue.
        for target in ns.rdatas() {
            let t = target.to_ascii_lowercase();
            if name::is_below_or_at(&t, &cut) && !glue.iter().any(|(n, _)| **n == *t) {
                found.problem(
                    cut_entry.line,
                    Severity::Error,
                    format!(
                        "{} NS {}: in-bailiwick name server without glue (A/AAAA)",
                        name::to_text(&cut),
                        name::to_text(&t)
                    ),
                );
            }
        }
        // Glue that this cut's NS do not name may be sibling glue; checked
        // against every NS once all cuts are built.
        for ((host, node), (line, rtype)) in glue.iter_mut().zip(glue_first) {
            node.rrsets.shrink_to_fit();
            if !ns.rdatas().any(|t| t.eq_ignore_ascii_case(host)) {
                found.glue_lines.push((host.clone(), rtype, line));
            }
        }
        Some(Delegation {
            name: cut.into(),
            ns,
            ds,
            glue: glue.into(),
        })
    }

    fn absorb(&mut self, found: Findings) {
        self.found.problems.extend(found.problems);
        self.found.glue_lines.extend(found.glue_lines);
    }

    /// The NSEC3 chain of a pre-signed zone (records sorted by owner, type).
    /// Records of other parameter sets than the NSEC3PARAM's are dropped.
    fn build_nsec3(&mut self, zone: &mut Zone, run: &[Entry]) {
        use super::nsec3::{hash_of_owner, Nsec3Chain, Nsec3Params, Nsec3Rdata, Nsec3Rec};
        let param = zone
            .apex
            .get(super::rdata::NSEC3PARAM)
            .and_then(|s| s.rdatas().next())
            .and_then(Nsec3Params::from_param_rdata);
        let first = run.iter().find(|e| e.rtype == NSEC3);
        let Some(mut params) = param.or_else(|| {
            let e = first?;
            let f = Nsec3Rdata::parse(self.rdata(e))?;
            Some(Nsec3Params {
                algorithm: f.algorithm,
                iterations: f.iterations,
                salt: f.salt.to_vec(),
                opt_out: false,
            })
        }) else {
            return;
        };
        if zone.apex.get(super::rdata::NSEC3PARAM).is_none() {
            self.problem(
                first.map_or(0, |e| e.line),
                Severity::Error,
                "NSEC3 records but no NSEC3PARAM at the apex".into(),
            );
        }
        let mut recs: Vec<Nsec3Rec> = Vec::new();
        let mut ttl = zone.negative_ttl();
        let mut i = 0;
        while i < run.len() {
            let owner = self.owner(&run[i]);
            let mut j = i;
            while j < run.len() && self.owner(&run[j]) == owner {
                j += 1;
            }
            let hash = hash_of_owner(owner).filter(|_| owner[33..] == *zone.origin);
            let nsec3 = run[i..j].iter().find(|e| {
                e.rtype == NSEC3
                    && Nsec3Rdata::parse(self.rdata(e)).is_some_and(|f| {
                        f.algorithm == params.algorithm
                            && f.iterations == params.iterations
                            && f.salt == &params.salt[..]
                    })
            });
            match (hash, nsec3) {
                (Some(h), Some(e)) => {
                    let mut rec = Nsec3Rec::new(h, e.ttl, self.rdata(e));
                    let sigs: Vec<&[u8]> = run[i..j]
                        .iter()
                        .filter(|s| s.rtype == RRSIG)
                        .map(|s| self.rdata(s))
                        .collect();
                    rec.rrset.set_sigs(&sigs);
                    params.opt_out |= rec.opt_out();
                    ttl = e.ttl;
                    recs.push(rec);
                }
                (None, _) => {
                    let line = run[i].line;
                    self.problem(
                        line,
                        Severity::Error,
                        format!(
                            "{}: NSEC3 owner is not <hash>.<origin> (ignored)",
                            name::to_text(owner)
                        ),
                    );
                }
                (Some(_), None) => {}
            }
            i = j;
        }
        recs.sort_by_key(|r| r.hash);
        recs.dedup_by(|a, b| a.hash == b.hash);
        let mut chain = Nsec3Chain::new(params, &zone.origin, ttl);
        chain.fill_sorted(recs);
        zone.nsec3 = Some(chain);
    }

    fn check_apex(&mut self, zone: &Zone, entries: &[Entry]) -> Result<(), BuildError> {
        let soa_lines: Vec<u32> = entries
            .iter()
            .filter(|e| e.bucket == APEX && e.rtype == SOA)
            .map(|e| e.line)
            .collect();
        if soa_lines.is_empty() {
            return Err(BuildError::NoSoa(name::to_text(&zone.origin)));
        }
        if soa_lines.len() > 1 {
            self.problem(
                soa_lines[1],
                Severity::Error,
                "more than one SOA record at the apex".into(),
            );
        }
        if zone.apex.get(NS).is_none() {
            return Err(BuildError::NoNs(name::to_text(&zone.origin)));
        }
        Ok(())
    }

    /// Name servers inside the zone but not under their own cut must resolve
    /// to addresses somewhere in the zone (sibling glue or authoritative data).
    fn check_ns_targets(&mut self, zone: &Zone) {
        let mut missing = Vec::new();
        let apex_ns = zone.apex.get(NS).into_iter().flat_map(|s| s.rdatas());
        for t in apex_ns {
            let t = t.to_ascii_lowercase();
            if zone
                .addresses(&t)
                .is_none_or(|n| n.get(A).is_none() && n.get(AAAA).is_none())
            {
                missing.push(format!(
                    "apex NS {} has no address records in the zone",
                    name::to_text(&t)
                ));
            }
        }
        for m in missing {
            self.problem(0, Severity::Error, m);
        }
        // Address records below a cut that their own cut's NS do not name
        // are glue only if some other NS names them (sibling glue).
        if self.found.glue_lines.is_empty() {
            return;
        }
        let mut targets: rustc_hash::FxHashSet<Vec<u8>> = rustc_hash::FxHashSet::default();
        for set in zone.cuts.iter().map(|d| &d.ns).chain(zone.apex.get(NS)) {
            for t in set.rdatas() {
                if name::is_below_or_at(&t.to_ascii_lowercase(), &zone.origin) {
                    targets.insert(t.to_ascii_lowercase());
                }
            }
        }
        for (owner, rtype, line) in std::mem::take(&mut self.found.glue_lines) {
            if !targets.contains(&*owner) {
                self.problem(
                    line,
                    Severity::Error,
                    format!(
                        "{} {} is below a delegation and not glue: no NS record names it (occluded)",
                        name::to_text(&owner),
                        rdata::type_name(rtype)
                    ),
                );
            }
        }
    }
}

fn set_rtype_of(node: &Node) -> u16 {
    node.rrsets.first().map_or(A, |r| r.rtype)
}

/// Attaches RRSIG RDATAs to the RRsets they cover.
fn attach_sigs(node: &mut Node, sigs: &[(u16, Vec<u8>)]) {
    for set in &mut node.rrsets {
        let s: Vec<&[u8]> = sigs
            .iter()
            .filter(|(t, _)| *t == set.rtype)
            .map(|(_, s)| s.as_slice())
            .collect();
        if !s.is_empty() {
            set.set_sigs(&s);
        }
    }
}

/// Reads a zone file into a new zone, reporting to `progress` (bytes read,
/// then indexing).
pub fn load_file(path: &Path, origin: &str, progress: &dyn Progress) -> Result<Loaded, LoadError> {
    let mut o = Vec::new();
    name::from_text(origin.as_bytes(), &[0], true, &mut o).map_err(|e| LoadError::Zone {
        file: path.display().to_string(),
        message: format!("origin {origin}: {e}"),
    })?;
    let total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    progress.phase(&format!("loading {origin}"), total, Unit::Bytes);
    // Large files are parsed in pieces on all cores, one builder each.
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builders = text::read_file_parallel(
        path,
        origin,
        parts,
        &|| Builder::new(&o),
        &|b: &mut Builder, r: TextRecord<'_>| {
            b.add(r.line, r.owner, r.rtype, r.class, r.ttl, r.rdata);
            Ok(())
        },
        &|done, _| progress.set(done),
    )?
    .into_iter();
    let mut builder = builders.next().unwrap_or_else(|| Builder::new(&o));
    for b in builders {
        builder.append(b);
    }
    progress.finish();
    progress.phase(&format!("indexing {origin}"), 0, Unit::Items);
    let loaded = builder.build().map_err(|e| LoadError::Zone {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    progress.finish();
    release_freed_memory();
    Ok(loaded)
}

/// Gives the arena pages freed after a load back to the kernel, so the
/// resident size reflects the zone, not the loader's peak.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
