//! Offline KSK: the Key Signing Request (KSR) the online signer writes,
//! the Signed Key Response (SKR) the KSK machine makes of it at a
//! ceremony, and the SKR the online signer imports and serves.
//!
//! # The exchange
//! 1. Online, `tldd keys ksr --zone Z --from T1 --to T2`: the ZSK plan of
//!    the period is made ([`crate::keys::offline`]: successors generated
//!    in the zone's keystore, their publication and their predecessors'
//!    removal planned), and the KSR lists, per slot (T1, each planned
//!    publication or removal, T2), the ZSK DNSKEYs the zone then has.
//! 2. At the ceremony, on the machine whose keystore holds the KSK, `tldd
//!    keys skr --zone Z --ksr FILE --out FILE` ([`sign_ksr`]): each KSR
//!    slot becomes one SKR slot, plus a re-signing slot every
//!    `signature_validity - signature_refresh` between, so the served
//!    signatures never have less than the refresh window left. Each slot
//!    holds the DNSKEY RRset (the KSK machine's published KSKs and the
//!    slot's ZSKs), CDS and CDNSKEY for a KSK it has `ready`, each signed
//!    by its signing KSKs with inception one `inception_offset` before the
//!    slot and expiration `signature_validity` after it.
//! 3. Online, `tldd keys import-skr --zone Z FILE` ([`import`]): every
//!    slot is checked — the ZSKs are exactly the planned ones, every RRSIG
//!    verifies with a KSK of the slot's DNSKEY RRset, each RRset is valid
//!    from its slot's start until the next slot's — and the KSKs must be
//!    the ones already served (a new KSK needs the parent's DS first;
//!    `--force` when it has it). The slots before the new file's first are
//!    kept, the rest replaced; the result is written atomically to
//!    `data_dir/keys/skr/ZONE.skr` and audited.
//! 4. The zone's loop serves, at each key step, the slot that matches the
//!    ZSKs it publishes ([`serving_slot`]) and steps again when the next
//!    slot starts.
//!
//! The files are in Knot DNS's format ([`file`](mod@file)): Knot's `keymgr
//! sign-ksr` can sign tldd's KSR, and tldd's `skr` a KSR of Knot's.
//!
//! # Limits
//! No KSK roll through SKRs yet (the KSK machine's state must have its
//! KSKs active; a KSK it has `ready` gets CDS/CDNSKEY, but nothing moves
//! it on the KSK machine); the ZSK set per slot is checked against the
//! plan, not against a KSR kept from step 1.
pub mod file;

use super::key::key_tag;
use super::rrsig::{signature_input, RrsigFields, Scratch};
use super::sign::{SignOptions, Signer};
use crate::config::Config;
use crate::keys::offline;
use crate::keys::roll::rfc3339;
use crate::keys::state::{self, KeyRecord, Role, StateLock};
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tldd_zone::rdata::{CDNSKEY, CDS, DNSKEY};
use tldd_zone::RRset;

/// One KSR slot: from `at`, the ZSK DNSKEY RDATAs (TTL `ttl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KsrSlot {
    pub at: u64,
    pub ttl: u32,
    pub dnskeys: Vec<Vec<u8>>,
}

/// One SKR slot: from `at`, the apex key RRsets with their RRSIGs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkrSlot {
    pub at: u64,
    pub dnskey: RRset,
    pub cds: Option<RRset>,
    pub cdnskey: Option<RRset>,
}

impl SkrSlot {
    /// Key tags of the slot's ZSKs (DNSKEYs without the SEP flag).
    pub fn zsk_tags(&self) -> BTreeSet<u16> {
        self.dnskey
            .rdatas()
            .filter(|rd| rd.len() > 4 && rd[1] & 1 == 0)
            .map(key_tag)
            .collect()
    }

    /// Key tags of the slot's KSKs (SEP flag).
    pub fn ksk_tags(&self) -> BTreeSet<u16> {
        self.dnskey
            .rdatas()
            .filter(|rd| rd.len() > 4 && rd[1] & 1 == 1)
            .map(key_tag)
            .collect()
    }

    /// The earliest expiration of the slot's signatures.
    pub fn expires(&self) -> Option<u64> {
        [Some(&self.dnskey), self.cds.as_ref(), self.cdnskey.as_ref()]
            .into_iter()
            .flatten()
            .flat_map(|s| s.sigs())
            .filter_map(|s| RrsigFields::parse(s).map(|(f, _)| u64::from(f.expiration)))
            .min()
    }
}

/// An imported SKR: slots in time order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skr {
    pub slots: Vec<SkrSlot>,
}

impl Skr {
    /// The slot current at `now` (the last that started).
    pub fn slot_at(&self, now: u64) -> Option<&SkrSlot> {
        self.slots.iter().rev().find(|s| s.at <= now)
    }

    /// When the next slot after `now` starts.
    pub fn next_after(&self, now: u64) -> Option<u64> {
        self.slots.iter().map(|s| s.at).find(|&a| a > now)
    }

    /// When the last slot's signatures expire: the SKR runs out then.
    pub fn runs_out(&self) -> Option<u64> {
        self.slots.last().and_then(SkrSlot::expires)
    }
}

/// Where a zone's imported SKR is kept.
pub fn skr_path(cfg: &Config, zone: &str) -> PathBuf {
    let name = if zone == "." {
        "root.".to_string()
    } else {
        zone.to_string()
    };
    state::keys_dir(cfg).join("skr").join(format!("{name}skr"))
}

/// Reads an SKR file's text.
pub fn parse_skr(name: &Path, text: &str, zone: &str) -> Result<Skr> {
    let mut slots = Vec::new();
    for c in file::parse(name, text, file::SKR, zone, &file::SKR_TYPES)? {
        let Some(dnskey) = file::rrset(&c, DNSKEY)? else {
            bail!(
                "{}:{}: slot {} has no DNSKEY RRset",
                name.display(),
                c.line,
                c.at
            );
        };
        slots.push(SkrSlot {
            at: c.at,
            dnskey,
            cds: file::rrset(&c, CDS)?,
            cdnskey: file::rrset(&c, CDNSKEY)?,
        });
    }
    Ok(Skr { slots })
}

/// Reads a KSR file's text.
pub fn parse_ksr(name: &Path, text: &str, zone: &str) -> Result<Vec<KsrSlot>> {
    let mut out = Vec::new();
    for c in file::parse(name, text, file::KSR, zone, &[DNSKEY])? {
        let Some(set) = file::rrset(&c, DNSKEY)? else {
            bail!("{}:{}: slot {} has no DNSKEY", name.display(), c.line, c.at);
        };
        out.push(KsrSlot {
            at: c.at,
            ttl: set.ttl,
            dnskeys: set.rdatas().map(<[u8]>::to_vec).collect(),
        });
    }
    Ok(out)
}

/// The SKR as file text.
pub fn skr_text(origin_wire: &[u8], skr: &Skr, now: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for s in &skr.slots {
        file::push_header(&mut out, file::SKR, s.at);
        for set in [Some(&s.dnskey), s.cdnskey.as_ref(), s.cds.as_ref()]
            .into_iter()
            .flatten()
        {
            super::zonefile::push_rrset(&mut out, origin_wire, set);
        }
    }
    file::push_footer(&mut out, file::SKR, now);
    out
}

/// The zone's imported SKR (`None`: none imported yet).
pub fn load(cfg: &Config, zone: &str) -> Result<Option<Skr>> {
    let p = skr_path(cfg, zone);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", p.display())),
    };
    parse_skr(&p, &text, zone).map(Some)
}

/// The slot a zone serves at `now` when it publishes the ZSKs `published`:
/// the last started slot whose ZSKs are exactly those (normally the
/// current one; an earlier one while the zone lags the plan).
pub fn serving_slot<'a>(skr: &'a Skr, published: &BTreeSet<u16>, now: u64) -> Option<&'a SkrSlot> {
    skr.slots
        .iter()
        .rev()
        .filter(|s| s.at <= now)
        .find(|s| &s.zsk_tags() == published)
}

/// The slot an offline-KSK zone with key records `records` serves at
/// `now` (see [`serving_slot`]), or why there is none.
pub fn presigned_for(cfg: &Config, zone: &str, records: &[KeyRecord], now: u64) -> Result<SkrSlot> {
    let Some(skr) = load(cfg, zone)? else {
        bail!(
            "zone {zone} has offline_ksk = true and no Signed Key Response: run `tldd keys ksr \
             --zone {zone}`, sign it with `tldd keys skr` on the KSK machine, then `tldd keys \
             import-skr --zone {zone} FILE`"
        );
    };
    let published = published_zsks(records);
    serving_slot(&skr, &published, now)
        .cloned()
        .with_context(|| {
            format!(
                "zone {zone}: the imported SKR has no slot begun by {} with the published ZSKs \
             {published:?}; import an SKR for the current plan (`tldd keys status`)",
                rfc3339(now)
            )
        })
}

/// Tags of the ZSKs `records` has in the DNSKEY RRset.
pub fn published_zsks(records: &[KeyRecord]) -> BTreeSet<u16> {
    records
        .iter()
        .filter(|r| r.role == Role::Zsk && r.state.is_published())
        .map(|r| r.key_tag)
        .collect()
}

fn origin_wire(zone: &str) -> Result<Vec<u8>> {
    crate::hsm::dnskey::name_wire(zone).map_err(|e| anyhow::anyhow!("zone {zone}: {e}"))
}

fn zone_dnssec<'a>(cfg: &'a Config, zone: &str) -> Result<&'a crate::config::DnssecConfig> {
    cfg.zone(zone)
        .and_then(|z| z.dnssec.as_ref())
        .with_context(|| format!("zone {zone} has no [zone.dnssec] section"))
}

/// What `tldd keys ksr` made.
pub struct KsrMade {
    /// The file text.
    pub text: Vec<u8>,
    /// The slots.
    pub slots: Vec<KsrSlot>,
    /// The successors generated for the period.
    pub generated: Vec<KeyRecord>,
}

/// `tldd keys ksr`: plans the zone's ZSKs for `from..=to` (generating the
/// successors it needs) and writes the request.
pub fn make_ksr(
    cfg: &Config,
    operator: &str,
    zone_arg: &str,
    from: u64,
    to: u64,
) -> Result<KsrMade> {
    let zone = state::canonical_zone(cfg, zone_arg)?;
    let dnssec = zone_dnssec(cfg, &zone)?;
    if !dnssec.offline_ksk {
        bail!(
            "zone {zone} does not have offline_ksk = true in [zone.dnssec]: its KSK signs online"
        );
    }
    if to <= from {
        bail!("--to must be after --from");
    }
    let t = dnssec.timings();
    let mut generated = Vec::new();
    loop {
        let recs = crate::keys::lifecycle::zone_records(cfg, &zone)?;
        if !recs
            .iter()
            .any(|k| k.role == Role::Zsk && k.state != state::KeyState::Retired)
        {
            bail!("zone {zone} has no ZSK: `tldd keys generate --zone {zone} --role zsk` makes the first");
        }
        let Some((after, publish, remove_after)) = offline::next_successor(&recs, &t, to) else {
            break;
        };
        let mode = crate::keys::Mode::Planned {
            publish,
            after,
            remove_after,
        };
        let g = crate::keys::new_key(cfg, operator, &zone, Role::Zsk, None, mode)?;
        generated.push(g.record);
    }
    let recs = crate::keys::lifecycle::zone_records(cfg, &zone)?;
    let ttl = dnssec.dnskey_ttl();
    let mut rdata_of = std::collections::HashMap::new();
    let mut slots = Vec::new();
    for at in offline::slot_times(&recs, from, to) {
        let mut dnskeys = Vec::new();
        for k in offline::zsks_at(&recs, at) {
            if let std::collections::hash_map::Entry::Vacant(e) = rdata_of.entry(k.key_tag) {
                let key = state::load_key(cfg, k).with_context(|| format!("key {}", k.key_tag))?;
                e.insert(key.dnskey_rdata().to_vec());
            }
            dnskeys.push(rdata_of[&k.key_tag].clone());
        }
        if dnskeys.is_empty() {
            bail!("zone {zone} has no ZSK planned at {} ({at})", rfc3339(at));
        }
        slots.push(KsrSlot { at, ttl, dnskeys });
    }
    let owner = origin_wire(&zone)?;
    let mut text = Vec::new();
    for s in &slots {
        file::push_header(&mut text, file::KSR, s.at);
        let refs: Vec<&[u8]> = s.dnskeys.iter().map(|v| v.as_slice()).collect();
        super::zonefile::push_rrset(&mut text, &owner, &RRset::new(DNSKEY, s.ttl, &refs));
    }
    file::push_footer(&mut text, file::KSR, super::sign::unix_now());
    audit_zone(cfg, operator, &zone, "ksr")?;
    Ok(KsrMade {
        text,
        slots,
        generated,
    })
}

fn audit_zone(cfg: &Config, operator: &str, zone: &str, action: &str) -> Result<()> {
    crate::keys::audit::append(
        &state::keys_dir(cfg).join("audit.log"),
        crate::keys::audit::Event {
            operator: operator.into(),
            action: action.into(),
            zone: zone.into(),
            key_tag: None,
            role: None,
            algorithm: None,
            keystore: None,
            token: None,
        },
    )?;
    Ok(())
}

/// What `tldd keys skr` signed, for the ceremony's transcript.
pub struct Signed {
    pub text: Vec<u8>,
    pub skr: Skr,
    /// The KSKs that signed.
    pub ksks: Vec<KeyRecord>,
    /// DS lines (digest type 2) of the KSKs in the DNSKEY RRsets.
    pub ds: Vec<String>,
    /// SHA-256 of the KSR file, hex.
    pub ksr_sha256: String,
}

/// `tldd keys skr`, on the KSK machine: signs the request `ksr` (text of
/// file `name`) with the zone's KSKs into a response.
pub fn sign_ksr(
    cfg: &Config,
    operator: &str,
    zone_arg: &str,
    name: &Path,
    ksr: &str,
) -> Result<Signed> {
    let zone = state::canonical_zone(cfg, zone_arg)?;
    let dnssec = zone_dnssec(cfg, &zone)?;
    let slots = parse_ksr(name, ksr, &zone)?;
    for s in &slots {
        for rd in &s.dnskeys {
            if rd.len() < 4 || rd[1] & 1 == 1 || rd[2] != 3 {
                bail!(
                    "{}: slot {} holds a DNSKEY that is not a ZSK (flags {}): a KSR asks for ZSKs only",
                    name.display(),
                    s.at,
                    rd.get(..2).map_or(0, |f| u16::from_be_bytes([f[0], f[1]]))
                );
            }
        }
    }
    let recs = crate::keys::lifecycle::zone_records(cfg, &zone)?;
    let serving = crate::keys::roll::serving(&recs);
    let mut published = Vec::new();
    let mut signing = Vec::new();
    let mut cds_keys = Vec::new();
    let mut ksks = Vec::new();
    for r in recs.iter().filter(|r| r.role == Role::Ksk) {
        let pubd = serving.published.iter().any(|k| k.key_tag == r.key_tag);
        let signs = serving.signing.iter().any(|k| k.key_tag == r.key_tag);
        if !pubd && !signs {
            continue;
        }
        let key = state::load_key(cfg, r).with_context(|| format!("KSK {}", r.key_tag))?;
        if pubd {
            published.push(key.dnskey_rdata().to_vec());
        }
        if serving.cds.iter().any(|k| k.key_tag == r.key_tag) {
            cds_keys.push(key.dnskey_rdata().to_vec());
        }
        if signs {
            signing.push(key);
            ksks.push(r.clone());
        }
    }
    if signing.is_empty() {
        bail!("zone {zone} has no active KSK here: `tldd keys generate --zone {zone} --role ksk` at the ceremony makes it");
    }
    let base = SignOptions::from_config(dnssec).map_err(|e| anyhow::anyhow!("{e}"))?;
    let step = u64::from(dnssec.validity().saturating_sub(dnssec.refresh_window())).max(1);
    let owner = origin_wire(&zone)?;
    let mut sc = Scratch::default();
    let mut out = Skr::default();
    for (i, s) in slots.iter().enumerate() {
        let end = slots.get(i + 1).map(|n| n.at);
        let mut at = s.at;
        loop {
            let mut opts = base.clone();
            opts.now = at;
            let signer =
                Signer::new(&owner, &signing, &opts).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut keys: Vec<&[u8]> = published.iter().map(|v| v.as_slice()).collect();
            keys.extend(s.dnskeys.iter().map(|v| v.as_slice()));
            let mut dnskey = RRset::new(DNSKEY, s.ttl, &keys);
            signer
                .sign_rrset(&owner, &mut dnskey, &mut sc)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let (mut cds, mut cdnskey) = (None, None);
            if !cds_keys.is_empty() {
                let mut ds = Vec::new();
                for k in &cds_keys {
                    for &d in &dnssec.cds_digest_types {
                        ds.extend(crate::hsm::dnskey::ds_rdata(&owner, k, d));
                    }
                }
                let refs: Vec<&[u8]> = ds.iter().map(|v| v.as_slice()).collect();
                let mut set = RRset::new(CDS, s.ttl, &refs);
                signer
                    .sign_rrset(&owner, &mut set, &mut sc)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                cds = Some(set);
                let refs: Vec<&[u8]> = cds_keys.iter().map(|v| v.as_slice()).collect();
                let mut set = RRset::new(CDNSKEY, s.ttl, &refs);
                signer
                    .sign_rrset(&owner, &mut set, &mut sc)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                cdnskey = Some(set);
            }
            out.slots.push(SkrSlot {
                at,
                dnskey,
                cds,
                cdnskey,
            });
            at += step;
            if end.is_none_or(|e| at >= e) {
                break;
            }
        }
    }
    let mut ds = Vec::new();
    for r in &ksks {
        let key = state::load_key(cfg, r)?;
        ds.push(crate::keys::ds_line(&zone, dnssec.dnskey_ttl(), &key)?);
    }
    for r in &ksks {
        crate::keys::audit::append(
            &state::keys_dir(cfg).join("audit.log"),
            r.audit_event(operator, "sign-ksr"),
        )?;
    }
    let text = skr_text(&owner, &out, super::sign::unix_now());
    Ok(Signed {
        text,
        skr: out,
        ksks,
        ds,
        ksr_sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, ksr.as_bytes())),
    })
}

/// Checks that every RRSIG of `set` verifies with a SEP key of `dnskey`
/// and that at least one is valid from `from` until `until`.
fn check_signed(
    owner: &[u8],
    set: &RRset,
    dnskey: &RRset,
    from: u64,
    until: u64,
    sc: &mut Scratch,
) -> Result<(), String> {
    let name = tldd_zone::rdata::type_name(set.rtype);
    let mut valid = 0;
    for sig in set.sigs() {
        let Some((f, signature)) = RrsigFields::parse(sig) else {
            return Err(format!("a {name} RRSIG is malformed"));
        };
        if f.covered != set.rtype || !f.signer.eq_ignore_ascii_case(owner) {
            return Err(format!(
                "a {name} RRSIG covers another type or names another signer"
            ));
        }
        let Some(key) = dnskey.rdatas().find(|rd| {
            rd.len() > 4 && rd[1] & 1 == 1 && rd[3] == f.algorithm && key_tag(rd) == f.key_tag
        }) else {
            return Err(format!(
                "the {name} RRSIG by key {} names no KSK of the slot's DNSKEY RRset",
                f.key_tag
            ));
        };
        let fields = f;
        signature_input(&fields, owner, set.rtype, set.rdatas(), sc);
        if !super::key::verify_signature(f.algorithm, &key[4..], &sc.input, signature) {
            return Err(format!(
                "the {name} RRSIG by key {} does not verify",
                f.key_tag
            ));
        }
        if u64::from(f.inception) <= from && u64::from(f.expiration) > until {
            valid += 1;
        }
    }
    if valid == 0 {
        return Err(format!(
            "no {name} RRSIG is valid from {} until {}",
            rfc3339(from),
            rfc3339(until)
        ));
    }
    Ok(())
}

/// What `tldd keys import-skr` did.
pub struct Imported {
    /// The slots imported.
    pub slots: usize,
    /// The slots kept from the SKR imported before.
    pub kept: usize,
    pub first: u64,
    pub last: u64,
    /// When the merged SKR runs out.
    pub runs_out: Option<u64>,
    pub ksks: BTreeSet<u16>,
}

/// `tldd keys import-skr`: checks the response `text` (file `name`)
/// against the zone's plan and keeps it (see the module doc). `force`
/// accepts KSKs other than the ones already imported.
pub fn import(
    cfg: &Config,
    operator: &str,
    zone_arg: &str,
    name: &Path,
    text: &str,
    force: bool,
) -> Result<Imported> {
    let zone = state::canonical_zone(cfg, zone_arg)?;
    let dnssec = zone_dnssec(cfg, &zone)?;
    if !dnssec.offline_ksk {
        bail!("zone {zone} does not have offline_ksk = true in [zone.dnssec]");
    }
    let new = parse_skr(name, text, &zone)?;
    let owner = origin_wire(&zone)?;
    let recs = crate::keys::lifecycle::zone_records(cfg, &zone)?;
    let mut tag_of_rdata: Vec<(u16, Vec<u8>)> = Vec::new();
    for r in recs.iter().filter(|r| r.role == Role::Zsk) {
        if let Ok(k) = state::load_key(cfg, r) {
            tag_of_rdata.push((r.key_tag, k.dnskey_rdata().to_vec()));
        }
    }
    let mut sc = Scratch::default();
    let ttl = dnssec.dnskey_ttl();
    for (i, s) in new.slots.iter().enumerate() {
        let until = new.slots.get(i + 1).map_or(s.at, |n| n.at);
        let at = format!("{}: slot {} ({})", name.display(), s.at, rfc3339(s.at));
        if s.ksk_tags().is_empty() {
            bail!("{at}: the DNSKEY RRset has no KSK");
        }
        if s.dnskey.ttl != ttl {
            bail!(
                "{at}: DNSKEY TTL {} differs from dnskey_ttl {ttl}",
                s.dnskey.ttl
            );
        }
        let want: BTreeSet<Vec<u8>> = offline::zsks_at(&recs, s.at)
            .iter()
            .filter_map(|k| tag_of_rdata.iter().find(|(t, _)| *t == k.key_tag))
            .map(|(_, rd)| rd.clone())
            .collect();
        let have: BTreeSet<Vec<u8>> = s
            .dnskey
            .rdatas()
            .filter(|rd| rd.len() > 4 && rd[1] & 1 == 0)
            .map(<[u8]>::to_vec)
            .collect();
        if want != have {
            let tags = |s: &BTreeSet<Vec<u8>>| {
                s.iter()
                    .map(|rd| key_tag(rd).to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            bail!(
                "{at}: the ZSKs are [{}], the plan has [{}] then: this SKR answers another KSR (see `tldd keys status`)",
                tags(&have),
                tags(&want)
            );
        }
        for set in [Some(&s.dnskey), s.cds.as_ref(), s.cdnskey.as_ref()]
            .into_iter()
            .flatten()
        {
            check_signed(&owner, set, &s.dnskey, s.at, until, &mut sc)
                .map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
        }
        if s.cds.is_some() != s.cdnskey.is_some() {
            bail!("{at}: CDS and CDNSKEY come together (RFC 7344)");
        }
    }
    let (Some(first), Some(last)) = (new.slots.first(), new.slots.last()) else {
        bail!("{}: no slots", name.display());
    };
    let (first, last) = (first.at, last.at);
    let dir = state::ensure_keys_dir(cfg)?;
    let _lock = StateLock::acquire(&dir)?;
    let old = load(cfg, &zone)?.unwrap_or_default();
    let new_ksks = new.slots[0].ksk_tags();
    if let Some(prev) = old
        .slots
        .iter()
        .rev()
        .find(|s| s.at < first)
        .or(old.slots.last())
    {
        if prev.ksk_tags().is_disjoint(&new_ksks) && !force {
            bail!(
                "the SKR's KSKs {:?} are not the ones served so far {:?}: a new KSK needs the parent's DS first (--force when it has it)",
                new_ksks,
                prev.ksk_tags()
            );
        }
    }
    let mut merged = Skr::default();
    merged
        .slots
        .extend(old.slots.iter().filter(|s| s.at < first).cloned());
    let kept = merged.slots.len();
    merged.slots.extend(new.slots.iter().cloned());
    let path = skr_path(cfg, &zone);
    let skr_dir = path.parent().context("no SKR directory")?;
    std::fs::create_dir_all(skr_dir)
        .with_context(|| format!("cannot create {}", skr_dir.display()))?;
    let tmp = skr_dir.join(".import.tmp");
    let body = skr_text(&owner, &merged, super::sign::unix_now());
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(skr_dir)?.sync_all()
    };
    write().with_context(|| format!("cannot write {}", path.display()))?;
    drop(_lock);
    audit_zone(cfg, operator, &zone, "import-skr")?;
    Ok(Imported {
        slots: new.slots.len(),
        kept,
        first,
        last,
        runs_out: merged.runs_out(),
        ksks: new_ksks,
    })
}

#[cfg(test)]
mod tests;
