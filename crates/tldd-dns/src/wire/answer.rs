//! The answer: from a parsed query and a zone version to response bytes.
//!
//! RFC 1034 §4.3.2 with the TLD cases first: a referral (no AA, the child NS
//! RRset in authority, glue in additional; TC when in-domain glue does not
//! fit, RFC 9471), DS at a cut answered authoritatively from the parent side,
//! NXDOMAIN/NODATA with the SOA (TTL = min(SOA TTL, MINIMUM), RFC 2308), apex
//! data with AA and additional addresses for NS/MX/SRV targets. EDNS (RFC
//! 6891): our payload size, DO echoed, BADVERS for version > 0, NSID (RFC
//! 5001), EXPIRE (RFC 7314). ANY over UDP gets one real RRset (RFC 8482
//! §4.1, signed under DO), QTYPE RRSIG the signatures of one RRset; over
//! TCP both get everything at the name. QCLASS ANY reads the IN data. DNS
//! cookies (RFC 7873, [`super::cookie`]) for queries from a known client
//! ([`respond_from`]). CHAOS
//! TXT `id.server`/`hostname.bind`/`version.bind`/`version.server` when
//! configured, REFUSED otherwise.
//!
//! With DO=1, RRSIGs stored with an RRset are added after it, and a signed
//! zone's negative answers and referrals to delegations without DS carry
//! the NSEC3 proofs of [`super::dnssec`].
//!
//! Not implemented: wildcard synthesis (TLD zones carry none; a `*` label is
//! served as a literal name), DNAME substitution.
use super::cookie::{self, Seen};
use super::dnssec::Denial;
use super::query::{self, CookieOpt, Query, Reject};
use super::writer::{Full, OptData, Section, Writer};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tldd_zone::rdata::{self, A, AAAA, ANY, AXFR, CNAME, DS, IXFR, NS, RRSIG, SOA, TXT};
use tldd_zone::{name, Delegation, Found, Node, RRset, Zone};

/// RCODEs (extended ones carry their upper bits in OPT).
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const NOTAUTH: u16 = 9;
    pub const BADVERS: u16 = 16;
    /// RFC 7873 §8: a valid server cookie is needed.
    pub const BADCOOKIE: u16 = 23;
}

const CLASS_IN: u16 = 1;
const CLASS_CH: u16 = 3;
const CLASS_ANY: u16 = 255;

/// Server-wide answer settings.
#[derive(Clone, Debug, Default)]
pub struct Params {
    /// Our EDNS payload size.
    pub udp_payload: u16,
    pub nsid: Option<Vec<u8>>,
    pub identity: Option<Vec<u8>>,
    pub version: Option<Vec<u8>>,
}

/// The zones served, as one snapshot.
#[derive(Clone, Default)]
pub struct ZoneSet {
    /// Sorted by origin length, longest first, so the first match is the
    /// closest enclosing zone.
    zones: Vec<Arc<Zone>>,
    /// Origins of secondary zones past SOA expire: still ours, but with no
    /// data we may serve, so their names get SERVFAIL (RFC 1034 §4.3.5
    /// practice, as NSD and Knot do), not REFUSED. Usually empty.
    expired: Vec<Box<[u8]>>,
    /// Secondary zones' expire deadlines (unix seconds, 0 while unknown),
    /// shared with each zone's event loop, for EDNS EXPIRE (RFC 7314).
    /// A zone without one is a primary: its SOA EXPIRE is the answer.
    clocks: Vec<(Box<[u8]>, Arc<AtomicU64>)>,
}

impl ZoneSet {
    pub fn new(mut zones: Vec<Arc<Zone>>) -> ZoneSet {
        zones.sort_by_key(|z| std::cmp::Reverse(z.origin.len()));
        ZoneSet {
            zones,
            expired: Vec::new(),
            clocks: Vec::new(),
        }
    }

    /// Registers the expire deadline a secondary zone's event loop keeps
    /// (unix seconds); kept by every copy made from this set.
    pub fn with_expire_clock(mut self, origin: &[u8], clock: Arc<AtomicU64>) -> ZoneSet {
        self.clocks.retain(|(o, _)| **o != *origin);
        self.clocks.push((origin.into(), clock));
        self
    }

    /// The EDNS EXPIRE value for `zone` (RFC 7314 §3): a secondary's
    /// remaining time before it stops serving, a primary's SOA EXPIRE.
    pub fn expire_value(&self, zone: &Zone) -> Option<u32> {
        let soa = || zone.soa()?.rdatas().next().and_then(rdata::soa_expire);
        match self.clocks.iter().find(|(o, _)| **o == *zone.origin) {
            Some((_, c)) => match c.load(Ordering::Relaxed) {
                0 => soa(),
                at => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    Some(at.saturating_sub(now).min(u64::from(u32::MAX)) as u32)
                }
            },
            None => soa(),
        }
    }

    /// A copy without the zone `origin`, which answers SERVFAIL from now on.
    pub fn expire(&self, origin: &[u8]) -> ZoneSet {
        let mut out = ZoneSet::new(
            self.zones
                .iter()
                .filter(|z| *z.origin != *origin)
                .cloned()
                .collect(),
        );
        out.expired = self.expired.clone();
        out.clocks = self.clocks.clone();
        if !out.expired.iter().any(|e| **e == *origin) {
            out.expired.push(origin.into());
        }
        out
    }

    /// Whether `qname` belongs to an expired zone rather than to `found`
    /// (the served zone [`find`](Self::find) gave, if any).
    #[inline]
    pub fn is_expired(&self, qname: &[u8], found: Option<&Zone>) -> bool {
        let depth = found.map_or(0, |z| z.origin.len());
        self.expired
            .iter()
            .any(|e| e.len() > depth && name::is_below_or_at(qname, e))
    }

    /// The zone that holds `qname` (lower-case wire).
    #[inline]
    pub fn find(&self, qname: &[u8]) -> Option<&Zone> {
        self.zones
            .iter()
            .map(|z| &**z)
            .find(|z| name::is_below_or_at(qname, &z.origin))
    }

    pub fn zones(&self) -> &[Arc<Zone>] {
        &self.zones
    }

    /// A copy that no longer knows the zone `origin` (a zone `reload`
    /// removed: its names are REFUSED from now on, unless a parent zone
    /// of ours holds them).
    pub fn without(&self, origin: &[u8]) -> ZoneSet {
        let mut out = ZoneSet::new(
            self.zones
                .iter()
                .filter(|z| *z.origin != *origin)
                .cloned()
                .collect(),
        );
        out.expired = self
            .expired
            .iter()
            .filter(|e| ***e != *origin)
            .cloned()
            .collect();
        out.clocks = self
            .clocks
            .iter()
            .filter(|(o, _)| **o != *origin)
            .cloned()
            .collect();
        out
    }

    /// A copy with `zone` replacing the zone of the same origin.
    /// (An expired zone that gets a version is served again.)
    pub fn with(&self, zone: Arc<Zone>) -> ZoneSet {
        let mut zones: Vec<Arc<Zone>> = self
            .zones
            .iter()
            .filter(|z| z.origin != zone.origin)
            .cloned()
            .collect();
        let mut expired = self.expired.clone();
        expired.retain(|e| *e != zone.origin);
        zones.push(zone);
        let mut out = ZoneSet::new(zones);
        out.expired = expired;
        out.clocks = self.clocks.clone();
        out
    }
}

/// What happened, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub qtype: u16,
    pub rcode: u16,
    pub truncated: bool,
    pub malformed: bool,
    /// A query this path does not answer (AXFR/IXFR, UPDATE, NOTIFY):
    /// handled elsewhere.
    pub handoff: bool,
    /// The query's DNS cookie (RFC 7873), as judged.
    pub cookie: Seen,
    /// Offset of the response's OPT record (0: none), for [`super::slip`].
    pub opt_at: u16,
}

/// Who asked, for DNS cookies: the client's address, the time (unix
/// seconds, read once per batch) and the cookie secrets in force.
#[derive(Clone, Copy, Debug)]
pub struct Client<'a> {
    pub ip: IpAddr,
    pub now: u32,
    pub cookies: &'a cookie::Secrets,
}

/// Transport the query came over.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Answers `pkt` into `out`; returns the response length (0: send nothing).
/// COOKIE options are ignored (no client address): the servers use
/// [`respond_from`].
pub fn respond(
    zones: &ZoneSet,
    p: &Params,
    pkt: &[u8],
    q: &mut Query,
    out: &mut [u8],
    t: Transport,
) -> (usize, Outcome) {
    respond_from(zones, p, pkt, q, out, t, None)
}

/// [`respond`] for a query from `client`: a COOKIE option in the query is
/// judged and answered ([`cookie`]).
pub fn respond_from(
    zones: &ZoneSet,
    p: &Params,
    pkt: &[u8],
    q: &mut Query,
    out: &mut [u8],
    t: Transport,
    client: Option<&Client<'_>>,
) -> (usize, Outcome) {
    let mut oc = Outcome::default();
    match query::parse(pkt, q) {
        Ok(()) => {}
        Err(Reject::Drop) => {
            oc.malformed = true;
            return (0, oc);
        }
        Err(Reject::NotImp) => {
            // No question echoed unless exactly one parsed (QDCOUNT 0 then,
            // as NSD and Knot answer); OPT when the query had a sound one.
            oc.rcode = rcode::NOTIMP;
            q.edns = query::scan_edns(pkt);
            let question = q.question_end > 12;
            let n = error_reply(pkt, q, out, rcode::NOTIMP, question, p, None);
            return (n, oc);
        }
        Err(Reject::FormErr { question, .. }) => {
            oc.malformed = true;
            oc.rcode = rcode::FORMERR;
            if !question {
                q.question_end = 12;
                q.label_count = 0;
            }
            // RFC 6891 §7: a reply to a query with OPT carries OPT, also
            // FORMERR (unless the OPT itself is what is wrong).
            q.edns = query::scan_edns(pkt);
            let n = error_reply(pkt, q, out, rcode::FORMERR, question, p, None);
            return (n, oc);
        }
    }
    oc.qtype = q.qtype;
    if q.opcode != 0 {
        oc.handoff = true;
        return (0, oc);
    }
    // RFC 7873: a query with a client cookie gets ours in every reply.
    let mut cookie_buf = [0u8; cookie::REPLY_LEN];
    if let (
        Some(c),
        Some(query::Edns {
            cookie: CookieOpt::At { at, len },
            ..
        }),
    ) = (client, q.edns)
    {
        if let Some(data) = pkt.get(at as usize..at as usize + len as usize) {
            oc.cookie = cookie::answer(data, c.ip, c.now, c.cookies, &mut cookie_buf);
        }
    }
    let reply_cookie = (oc.cookie != Seen::None).then_some(&cookie_buf[..]);
    if let Some(e) = q.edns {
        if e.version > 0 {
            oc.rcode = rcode::BADVERS;
            let n = error_reply(pkt, q, out, rcode::BADVERS, true, p, reply_cookie);
            return (n, oc);
        }
    }
    if q.tsig_at.is_some() {
        // Signed queries are verified and signed off the fast path.
        oc.handoff = true;
        return (0, oc);
    }
    let limit = match (t, q.edns) {
        (Transport::Tcp, _) => out.len().min(65535),
        (Transport::Udp, Some(e)) => (e.udp_size.max(512).min(p.udp_payload.max(512))) as usize,
        (Transport::Udp, None) => 512,
    };
    let opt_room = match q.edns {
        Some(e) => {
            11 + p
                .nsid
                .as_ref()
                .filter(|_| e.nsid)
                .map_or(0, |n| 4 + n.len())
                + if e.expire { 8 } else { 0 }
                + reply_cookie.map_or(0, |c| 4 + c.len())
        }
        None => 0,
    };
    let mut w = Writer::new(
        out,
        &pkt[..q.question_end],
        &q.labels[..q.label_count],
        limit.saturating_sub(opt_room),
    );
    let mut expire = None;
    let mut ede = None;
    let (rc, aa, tc) = match q.qclass {
        // QCLASS ANY (RFC 1035 §3.2.5) is answered from the IN data, as
        // NSD and Knot do.
        CLASS_IN | CLASS_ANY => match q.qtype {
            AXFR | IXFR => {
                // IXFR over UDP is answered when it fits (RFC 1995 §2);
                // AXFR over UDP is not implemented (NOTIMP, as NSD and Knot).
                if t == Transport::Tcp || q.qtype == IXFR {
                    oc.handoff = true;
                    return (0, oc);
                }
                (rcode::NOTIMP, false, false)
            }
            // Meta types that cannot be asked for (RFC 6891 §6.1.1, RFC 8945).
            rdata::OPT | 249 | rdata::TSIG => (rcode::FORMERR, false, false),
            _ => {
                let found = zones.find(q.name());
                if !zones.expired.is_empty() && zones.is_expired(q.name(), found) {
                    ede = Some(EDE_EXPIRED);
                    (rcode::SERVFAIL, false, false)
                } else {
                    match found {
                        Some(zone) => {
                            if q.edns.is_some_and(|e| e.expire) {
                                expire = zones.expire_value(zone);
                            }
                            answer_in(zone, q, &mut w, t)
                        }
                        None => {
                            ede = Some(EDE_NOT_OURS);
                            (rcode::REFUSED, false, false)
                        }
                    }
                }
            }
        },
        CLASS_CH => chaos(q, p, &mut w),
        _ => (rcode::REFUSED, false, false),
    };
    oc.rcode = rc;
    oc.truncated = tc;
    let x = Extras {
        expire,
        ede,
        cookie: reply_cookie,
    };
    let (n, opt_at) = finish(w, q, p, (rc, aa, tc), x);
    oc.opt_at = opt_at;
    (n, oc)
}

/// What the OPT record of an answer carries besides NSID.
struct Extras<'a> {
    /// EDNS EXPIRE (RFC 7314).
    expire: Option<u32>,
    /// An Extended DNS Error (RFC 8914).
    ede: Option<(u16, &'static [u8])>,
    /// The reply's COOKIE (RFC 7873).
    cookie: Option<&'a [u8]>,
}

/// RFC 8914 for a name in no zone of ours: 20 Not Authoritative.
const EDE_NOT_OURS: (u16, &[u8]) = (super::ede::code::NOT_AUTHORITATIVE, b"");
/// For a secondary zone past its SOA expire: 22 No Reachable Authority.
const EDE_EXPIRED: (u16, &[u8]) = (
    super::ede::code::NO_REACHABLE_AUTHORITY,
    b"zone expired: no contact with its primary",
);

fn header_flags(q: &Query, rc: u16, aa: bool, tc: bool) -> u16 {
    0x8000 | (q.flags & 0x7900) /* opcode + RD */ | (q.flags & 0x0010) /* CD */
        | if aa { 0x0400 } else { 0 }
        | if tc { 0x0200 } else { 0 }
        | (rc & 0xf)
}

/// Ends the answer with OPT; returns its length and where OPT starts (0: none).
fn finish(
    mut w: Writer<'_>,
    q: &Query,
    p: &Params,
    (rc, aa, tc): (u16, bool, bool),
    x: Extras<'_>,
) -> (usize, u16) {
    let mut opt_at = 0;
    if let Some(e) = q.edns {
        opt_at = w.pos() as u16;
        let data = OptData {
            nsid: p.nsid.as_deref().filter(|_| e.nsid),
            expire: x.expire,
            cookie: x.cookie,
            ede: x.ede,
        };
        w.opt(p.udp_payload, (rc >> 4) as u8, e.dnssec_ok, data);
    }
    (w.finish(header_flags(q, rc, aa, tc), 1), opt_at)
}

/// A reply carrying only a header, the question when it parsed, and OPT.
fn error_reply(
    pkt: &[u8],
    q: &Query,
    out: &mut [u8],
    rc: u16,
    with_question: bool,
    p: &Params,
    cookie: Option<&[u8]>,
) -> usize {
    let qend = if with_question {
        q.question_end.min(pkt.len())
    } else {
        12
    };
    let mut w = Writer::new(out, &pkt[..qend.max(12).min(pkt.len())], &[], 512);
    if let Some(e) = q.edns {
        let data = OptData {
            nsid: p.nsid.as_deref().filter(|_| e.nsid),
            cookie,
            ..OptData::default()
        };
        w.opt(p.udp_payload, (rc >> 4) as u8, e.dnssec_ok, data);
    }
    let flags = 0x8000 | (q.flags & 0x7900) | (q.flags & 0x0010) | (rc & 0xf);
    let len = w.finish(flags, with_question as u16);
    // The ID is already in place (copied with the header).
    len
}

fn chaos(q: &Query, p: &Params, w: &mut Writer<'_>) -> (u16, bool, bool) {
    if q.qtype != TXT && q.qtype != ANY {
        return (rcode::REFUSED, false, false);
    }
    let value = match q.name() {
        b"\x02id\x06server\x00" | b"\x08hostname\x04bind\x00" => p.identity.as_deref(),
        b"\x07version\x04bind\x00" | b"\x07version\x06server\x00" => p.version.as_deref(),
        _ => None,
    };
    let Some(v) = value else {
        return (rcode::REFUSED, false, false);
    };
    let mut rd = [0u8; 256];
    let n = v.len().min(255);
    rd[0] = n as u8;
    rd[1..1 + n].copy_from_slice(&v[..n]);
    let name = q.name();
    match w.rr(Section::Answer, name, TXT, CLASS_CH, 0, &rd[..1 + n]) {
        Ok(()) => (rcode::NOERROR, true, false),
        Err(Full) => (rcode::NOERROR, true, true),
    }
}

/// An IN-class answer from `zone`. Returns (rcode, AA, TC).
fn answer_in(zone: &Zone, q: &Query, w: &mut Writer<'_>, t: Transport) -> (u16, bool, bool) {
    let qname = q.name();
    // DO only matters for a signed zone (as NSD and Knot do: an unsigned
    // zone's DS is not added to referrals).
    let dnssec = q.dnssec_ok() && zone.is_signed();
    match zone.find(qname, &q.labels[..q.label_count]) {
        Found::Apex => answer_node(zone, &zone.apex, q, w, t, dnssec),
        Found::Name(node) => answer_node(zone, node, q, w, t, dnssec),
        Found::Cut { cut, at_cut: true } if q.qtype == DS => match &cut.ds {
            Some(ds) => {
                let m = w.mark();
                if put_rrset(w, Section::Answer, qname, ds, dnssec).is_err() {
                    w.rollback(m);
                    return (rcode::NOERROR, true, true);
                }
                (rcode::NOERROR, true, false)
            }
            None => negative(
                zone,
                w,
                rcode::NOERROR,
                dnssec,
                Denial::NoData { name: qname },
            ),
        },
        Found::Cut { cut, .. } => referral(zone, cut, w, dnssec),
        Found::NxDomain { encloser_len } => negative(
            zone,
            w,
            rcode::NXDOMAIN,
            dnssec,
            Denial::NxDomain {
                qname,
                encloser_len,
            },
        ),
    }
}

/// Writes an RRset (and its RRSIGs when `dnssec`), all or nothing.
fn put_rrset(
    w: &mut Writer<'_>,
    s: Section,
    owner: &[u8],
    set: &RRset,
    dnssec: bool,
) -> Result<(), Full> {
    for rd in set.rdatas() {
        w.rr(s, owner, set.rtype, CLASS_IN, set.ttl, rd)?;
    }
    if dnssec {
        for sig in set.sigs() {
            w.rr(s, owner, rdata::RRSIG, CLASS_IN, set.ttl, sig)?;
        }
    }
    Ok(())
}

/// NXDOMAIN or NODATA: the SOA in authority with the negative TTL; with
/// DO=1 its RRSIG and the NSEC3 proof of `denial`.
fn negative(
    zone: &Zone,
    w: &mut Writer<'_>,
    rc: u16,
    dnssec: bool,
    denial: Denial<'_>,
) -> (u16, bool, bool) {
    if let Some(soa) = zone.soa() {
        let ttl = zone.negative_ttl();
        let m = w.mark();
        let r = soa
            .rdatas()
            .try_for_each(|rd| w.rr(Section::Authority, &zone.origin, SOA, CLASS_IN, ttl, rd))
            .and_then(|_| {
                if dnssec {
                    soa.sigs().try_for_each(|s| {
                        w.rr(
                            Section::Authority,
                            &zone.origin,
                            rdata::RRSIG,
                            CLASS_IN,
                            ttl,
                            s,
                        )
                    })
                } else {
                    Ok(())
                }
            });
        let r = r.and_then(|_| {
            if dnssec {
                super::dnssec::prove(zone, denial, w)
            } else {
                Ok(())
            }
        });
        if r.is_err() {
            w.rollback(m);
            return (rc, true, true);
        }
    }
    (rc, true, false)
}

/// A referral to `cut`: NS (and DS with DO) in authority, glue in additional.
fn referral(zone: &Zone, cut: &Delegation, w: &mut Writer<'_>, dnssec: bool) -> (u16, bool, bool) {
    let m = w.mark();
    let mut r = cut
        .ns
        .rdatas()
        .try_for_each(|rd| w.rr(Section::Authority, &cut.name, NS, CLASS_IN, cut.ns.ttl, rd));
    if dnssec {
        r = r.and_then(|_| match &cut.ds {
            Some(ds) => put_rrset(w, Section::Authority, &cut.name, ds, true),
            None => super::dnssec::insecure_delegation(zone, &cut.name, w),
        });
    }
    if r.is_err() {
        w.rollback(m);
        return (rcode::NOERROR, false, true);
    }
    // In-domain glue first: it is required (RFC 9471 §3); then sibling glue.
    let mut tc = false;
    let mut host = [0u8; 256];
    for pass in 0..2 {
        for target in cut.ns.rdatas() {
            let Some(len) = name::wire_len(target) else {
                continue;
            };
            let h = &mut host[..len];
            h.copy_from_slice(&target[..len]);
            h.make_ascii_lowercase();
            let in_domain = name::is_below_or_at(h, &cut.name);
            if in_domain != (pass == 0) {
                continue;
            }
            let node = if in_domain {
                cut.glue_for(h)
            } else {
                zone.addresses(h)
            };
            let Some(node) = node else { continue };
            let m = w.mark();
            if put_addresses(w, target, node).is_err() {
                w.rollback(m);
                if in_domain {
                    tc = true;
                }
                break;
            }
        }
        if tc {
            break;
        }
    }
    (rcode::NOERROR, false, tc)
}

fn put_addresses(w: &mut Writer<'_>, owner: &[u8], node: &Node) -> Result<(), Full> {
    for t in [A, AAAA] {
        if let Some(set) = node.get(t) {
            for rd in set.rdatas() {
                w.rr(Section::Additional, owner, t, CLASS_IN, set.ttl, rd)?;
            }
        }
    }
    Ok(())
}

/// An authoritative name (apex included).
fn answer_node(
    zone: &Zone,
    node: &Node,
    q: &Query,
    w: &mut Writer<'_>,
    t: Transport,
    dnssec: bool,
) -> (u16, bool, bool) {
    let qname = q.name();
    if node.is_empty() {
        return negative(
            zone,
            w,
            rcode::NOERROR,
            dnssec,
            Denial::NoData { name: qname },
        );
    }
    if q.qtype == ANY {
        // RFC 8482 §4.1 over UDP: one real RRset (the first by type, as
        // Knot picks), with its RRSIGs under DO so a validator can check
        // it — a synthesized HINFO could not be signed here, the keys do
        // not sign per query. Over TCP: every RRset.
        if t == Transport::Udp {
            let Some(set) = node.rrsets.first() else {
                return (rcode::NOERROR, true, false);
            };
            let m = w.mark();
            if put_rrset(w, Section::Answer, qname, set, dnssec).is_err() {
                w.rollback(m);
                return (rcode::NOERROR, true, true);
            }
            additional_for(zone, set, w, dnssec);
            return (rcode::NOERROR, true, false);
        }
        for set in &node.rrsets {
            if put_rrset(w, Section::Answer, qname, set, dnssec).is_err() {
                return (rcode::NOERROR, true, true);
            }
        }
        return (rcode::NOERROR, true, false);
    }
    if q.qtype == RRSIG {
        if let Some(answered) = answer_rrsig(node, qname, w, t) {
            return answered;
        }
        return negative(
            zone,
            w,
            rcode::NOERROR,
            dnssec,
            Denial::NoData { name: qname },
        );
    }
    if let Some(set) = node.get(q.qtype) {
        let m = w.mark();
        if put_rrset(w, Section::Answer, qname, set, dnssec).is_err() {
            w.rollback(m);
            return (rcode::NOERROR, true, true);
        }
        additional_for(zone, set, w, dnssec);
        return (rcode::NOERROR, true, false);
    }
    if let Some(cname) = node.get(CNAME) {
        return follow_cname(zone, qname, cname, q, w, dnssec);
    }
    negative(
        zone,
        w,
        rcode::NOERROR,
        dnssec,
        Denial::NoData { name: qname },
    )
}

/// QTYPE RRSIG (RFC 4035 §3.1.5 leaves the choice; RFC 8482 treats it
/// like ANY): the signatures stored at the name — over UDP those of its
/// first signed RRset (as Knot answers), over TCP all of them. A name
/// without signatures gets NODATA, which its NSEC3 then proves truthfully.
fn answer_rrsig(
    node: &Node,
    qname: &[u8],
    w: &mut Writer<'_>,
    t: Transport,
) -> Option<(u16, bool, bool)> {
    let mut any = false;
    for set in node.rrsets.iter().filter(|s| s.sigs().next().is_some()) {
        let m = w.mark();
        let r = set
            .sigs()
            .try_for_each(|sig| w.rr(Section::Answer, qname, RRSIG, CLASS_IN, set.ttl, sig));
        if r.is_err() {
            w.rollback(m);
            return Some((rcode::NOERROR, true, true));
        }
        any = true;
        if t == Transport::Udp {
            break;
        }
    }
    any.then_some((rcode::NOERROR, true, false))
}

/// Answers with the CNAME and, while the chain stays inside this zone's
/// authoritative data, with what it points to (at most 8 links).
fn follow_cname(
    zone: &Zone,
    qname: &[u8],
    first: &RRset,
    q: &Query,
    w: &mut Writer<'_>,
    dnssec: bool,
) -> (u16, bool, bool) {
    let mut owner = [0u8; 256];
    let mut owner_len = qname.len();
    owner[..owner_len].copy_from_slice(qname);
    let mut set = first;
    for _ in 0..8 {
        let m = w.mark();
        if put_rrset(w, Section::Answer, &owner[..owner_len], set, dnssec).is_err() {
            w.rollback(m);
            return (rcode::NOERROR, true, true);
        }
        let Some(target) = set.rdatas().next() else {
            break;
        };
        let Some(len) = name::wire_len(target) else {
            break;
        };
        owner[..len].copy_from_slice(&target[..len]);
        owner[..len].make_ascii_lowercase();
        owner_len = len;
        let tname = &owner[..owner_len];
        if !name::is_below_or_at(tname, &zone.origin) {
            break;
        }
        let mut labels = [0u8; 128];
        let Some(n) = tldd_zone::version::label_offsets(tname, &mut labels) else {
            break;
        };
        let node = match zone.find(tname, &labels[..n]) {
            Found::Apex => &zone.apex,
            Found::Name(node) => node,
            Found::NxDomain { encloser_len } => {
                return negative(
                    zone,
                    w,
                    rcode::NXDOMAIN,
                    dnssec,
                    Denial::NxDomain {
                        qname: tname,
                        encloser_len,
                    },
                )
            }
            Found::Cut { .. } => break,
        };
        if let Some(s) = node.get(q.qtype) {
            let m = w.mark();
            if put_rrset(w, Section::Answer, tname, s, dnssec).is_err() {
                w.rollback(m);
                return (rcode::NOERROR, true, true);
            }
            break;
        }
        match node.get(CNAME) {
            Some(c) => set = c,
            None => break,
        }
    }
    (rcode::NOERROR, true, false)
}

/// Addresses of NS/MX/SRV targets that the zone holds, when they fit;
/// under `dnssec` with their RRSIGs (authoritative addresses have them,
/// glue does not), as Knot and NSD add them.
fn additional_for(zone: &Zone, set: &RRset, w: &mut Writer<'_>, dnssec: bool) {
    if !matches!(set.rtype, NS | rdata::MX | rdata::SRV) {
        return;
    }
    let mut host = [0u8; 256];
    for rd in set.rdatas() {
        let Some(target) = rdata::target_name(set.rtype, rd) else {
            continue;
        };
        let h = &mut host[..target.len()];
        h.copy_from_slice(target);
        h.make_ascii_lowercase();
        let Some(node) = zone.addresses(h) else {
            continue;
        };
        let m = w.mark();
        let r = if dnssec {
            [A, AAAA].iter().try_for_each(|&t| match node.get(t) {
                Some(s) => put_rrset(w, Section::Additional, target, s, true),
                None => Ok(()),
            })
        } else {
            put_addresses(w, target, node)
        };
        if r.is_err() {
            w.rollback(m);
            return;
        }
    }
}

/// A header-and-question reply with `rc` (for queries handed off to a
/// handler that is not there, e.g. UPDATE on a zone without `update_key`).
pub fn reply_rcode(pkt: &[u8], q: &Query, out: &mut [u8], rc: u16, p: &Params) -> usize {
    error_reply(pkt, q, out, rc, true, p, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(zs: &ZoneSet, qname: &[u8]) -> u16 {
        let mut pkt = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        pkt.extend_from_slice(qname);
        pkt.extend_from_slice(&[0, 1, 0, 1]);
        let mut q = Query::default();
        let mut out = vec![0u8; 4096];
        let (n, oc) = respond(
            zs,
            &Params::default(),
            &pkt,
            &mut q,
            &mut out,
            Transport::Udp,
        );
        assert!(n >= 12);
        assert_eq!(u16::from(out[3] & 0xf), oc.rcode);
        oc.rcode
    }

    #[test]
    fn expired_zone_answers_servfail_until_served_again() {
        let shop = b"\x04shop\x00";
        let zs = ZoneSet::new(vec![Arc::new(Zone::new(shop))]);
        assert_ne!(ask(&zs, b"\x03foo\x04shop\x00"), rcode::SERVFAIL);
        let expired = zs.expire(shop);
        assert!(expired.find(b"\x03foo\x04shop\x00").is_none());
        assert_eq!(ask(&expired, b"\x03foo\x04shop\x00"), rcode::SERVFAIL);
        assert_eq!(ask(&expired, shop), rcode::SERVFAIL);
        // not ours at all: still REFUSED
        assert_eq!(ask(&expired, b"\x03foo\x03net\x00"), rcode::REFUSED);
        // a new version is served again
        let back = expired.with(Arc::new(Zone::new(shop)));
        assert_ne!(ask(&back, b"\x03foo\x04shop\x00"), rcode::SERVFAIL);
    }
}
