//! The signer as a library: full signing, verification, the corruption
//! the verifier must catch, incremental splicing, and the text round trip.
use crate::support::dnssec as dnssec_common;
use dnssec_common::*;
use tldd_dns::signer::{self, chain, Scratch, SignOptions, Signer, TestKey};
use tldd_zone::load::load_file;
use tldd_zone::nsec3::Nsec3Rec;
use tldd_zone::{Delegation, RRset, Zone};

fn opts(opt_out: bool) -> SignOptions {
    SignOptions {
        opt_out,
        iterations: 0,
        salt: Vec::new(),
        validity: 14 * 86400,
        inception_offset: 3600,
        dnskey_ttl: 3600,
        now: signer::sign::unix_now(),
    }
}

fn keys(alg: u8) -> Vec<TestKey> {
    vec![
        TestKey::generate(alg, true).unwrap(),
        TestKey::generate(alg, false).unwrap(),
    ]
}

fn loaded(extra: usize) -> Zone {
    let dir = tempfile::tempdir().unwrap();
    let f = write_zone(dir.path(), extra);
    load_file(&f, "shop.", &tldd_zone::progress::Quiet)
        .unwrap()
        .zone
}

fn chain_of(z: &Zone) -> Vec<(Vec<u8>, Vec<u8>)> {
    z.nsec3
        .as_ref()
        .unwrap()
        .iter()
        .map(|r: &Nsec3Rec| (r.hash.to_vec(), r.rdata().to_vec()))
        .collect()
}

#[test]
fn signs_and_verifies_all_variants() {
    for alg in [13, 15] {
        for opt_out in [true, false] {
            let mut z = loaded(50);
            let k = keys(alg);
            let st = signer::sign_in_place(&mut z, &opts(opt_out), &k, &|_| {}).unwrap();
            let v = signer::verify_at(&z, signer::sign::unix_now() as u32)
                .unwrap_or_else(|e| panic!("alg {alg} opt-out {opt_out}: {e}"));
            assert_eq!(v.rrsets as u64, st.rrsets_signed);
            let chain = z.nsec3.as_ref().unwrap();
            // apex, nic, a.nic, b.nic, mail.nic, ent, x.ent, www.x.ent, sub (ENT),
            // signed, deep.sub, 10 DS delegations; + unsigned ones without opt-out.
            let base = 9 + 2 + 10;
            let expect = if opt_out { base } else { base + 3 + 40 };
            assert_eq!(chain.len(), expect, "alg {alg} opt-out {opt_out}");
            assert!(chain.iter().all(|r| r.opt_out() == opt_out));
            // Not signed: delegation NS, glue.
            let d = z.cuts.get(&wire("signed.shop.")).unwrap();
            assert!(d.ns.sigs().next().is_none());
            assert!(d
                .glue
                .iter()
                .all(|(_, n)| n.rrsets.iter().all(|s| s.sigs().next().is_none())));
            assert!(d.ds.as_ref().unwrap().sigs().next().is_some());
        }
    }
}

#[test]
fn dnskey_signed_by_ksk_rest_by_zsk() {
    let mut z = loaded(0);
    let k = keys(13);
    signer::sign_in_place(&mut z, &opts(true), &k, &|_| {}).unwrap();
    use tldd_dns::signer::rrsig::RrsigFields;
    use tldd_dns::signer::SigningKey;
    let tag_of = |t: u16| {
        let set = z.apex.get(t).unwrap();
        set.sigs()
            .map(|s| RrsigFields::parse(s).unwrap().0.key_tag)
            .collect::<Vec<_>>()
    };
    assert_eq!(tag_of(48), vec![k[0].key_tag()]);
    assert_eq!(tag_of(6), vec![k[1].key_tag()]);
    assert_eq!(tag_of(51), vec![k[1].key_tag()]);
}

#[test]
fn verifier_catches_corruption() {
    let mut z = loaded(20);
    let k = keys(13);
    signer::sign_in_place(&mut z, &opts(true), &k, &|_| {}).unwrap();
    signer::verify(&z).unwrap();

    let mut bad = z.clone();
    assert!(signer::corrupt_one_signature(&mut bad));
    let e = signer::verify(&bad).unwrap_err();
    assert!(
        e.count >= 1
            && e.problems
                .iter()
                .all(|p| p.starts_with("d") || p.starts_with("signed")),
        "{e}"
    );
    assert!(e.to_string().contains("does not verify"), "{e}");

    // A DS changed after signing.
    let mut bad = z.clone();
    let mut d: Delegation = bad.cuts.get(&wire("signed.shop.")).unwrap().clone();
    let ds = d.ds.as_mut().unwrap();
    let mut changed = ds.with(b"\x00\x01\x0d\x02\xaa");
    changed.set_sigs(&ds.sigs().collect::<Vec<_>>());
    **ds = changed;
    bad.cuts.insert(d);
    assert!(signer::verify(&bad).is_err());

    // An NSEC3 record removed: chain broken, a name uncovered.
    let mut bad = z.clone();
    let h = bad.nsec3.as_ref().unwrap().iter().nth(3).unwrap().hash;
    bad.nsec3.as_mut().unwrap().remove(&h);
    let e = signer::verify(&bad).unwrap_err();
    assert!(
        e.to_string().contains("next hashed owner") || e.to_string().contains("no NSEC3"),
        "{e}"
    );

    // A new DS delegation nobody signed or chained.
    let mut bad = z.clone();
    bad.cuts.insert(Delegation {
        name: wire("new.shop.").into(),
        ns: RRset::new(2, 86400, &[&wire("ns.example.")]),
        ds: Some(Box::new(RRset::new(43, 86400, &[b"\x00\x01\x0d\x02\xaa"]))),
        glue: Box::new([]),
    });
    let e = signer::verify(&bad).unwrap_err();
    assert!(e.count >= 2, "{e}");

    // Expired signatures.
    assert!(signer::verify_at(&z, (signer::sign::unix_now() + 30 * 86400) as u32).is_err());
}

#[test]
fn incremental_splice_matches_full_signing() {
    for opt_out in [true, false] {
        let k = keys(13);
        let o = opts(opt_out);
        let mut z = loaded(30);
        signer::sign_in_place(&mut z, &o, &k, &|_| {}).unwrap();
        let s = Signer::new(&z.origin, &k, &o).unwrap();
        let mut sc = Scratch::default();

        // Add a delegation with DS and one without; change DS status of another.
        for (name, with_ds) in [("added.shop.", true), ("added2.shop.", false)] {
            let mut ds = RRset::new(43, 86400, &[b"\x00\x02\x0d\x02\xbb"]);
            let n = wire(name);
            if with_ds {
                s.sign_rrset(&n, &mut ds, &mut sc).unwrap();
            }
            z.cuts.insert(Delegation {
                name: n.clone().into(),
                ns: RRset::new(2, 86400, &[&wire("ns.example.")]),
                ds: with_ds.then(|| Box::new(ds)),
                glue: Box::new([]),
            });
            chain::update_name(&mut z, &n, &s, &mut sc).unwrap();
        }
        let n = wire("d5.shop."); // had DS
        let mut d = z.cuts.get(&n).unwrap().clone();
        d.ds = None;
        z.cuts.insert(d);
        chain::update_name(&mut z, &n, &s, &mut sc).unwrap();
        let n = wire("plain.shop."); // removed
        z.cuts.remove(&n);
        chain::update_name(&mut z, &n, &s, &mut sc).unwrap();

        signer::verify(&z).unwrap_or_else(|e| panic!("opt-out {opt_out}: {e}"));
        let now = signer::sign::unix_now() as u32;
        let touched: Vec<Vec<u8>> = [
            "added.shop.",
            "added2.shop.",
            "d5.shop.",
            "plain.shop.",
            "shop.",
        ]
        .iter()
        .map(|n| wire(n))
        .collect();
        let refs: Vec<&[u8]> = touched.iter().map(|v| v.as_slice()).collect();
        signer::verify_names(&z, &refs, now).unwrap_or_else(|e| panic!("{e}"));
        let mut bad = z.clone();
        let mut d = bad.cuts.get(&wire("added.shop.")).unwrap().clone();
        d.ds = None; // changed without re-chaining
        bad.cuts.insert(d);
        assert!(signer::verify_names(&bad, &refs[..1], now).is_err());
        let mut full = z.clone();
        signer::sign_in_place(&mut full, &o, &k, &|_| {}).unwrap();
        assert_eq!(chain_of(&z), chain_of(&full), "opt-out {opt_out}");
    }
}

#[test]
fn text_round_trip_loads_the_chain() {
    let mut z = loaded(40);
    signer::sign_in_place(&mut z, &opts(true), &keys(13), &|_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("signed.zone");
    let mut f = std::fs::File::create(&p).unwrap();
    signer::zonefile::write_zone(&z, &mut f, &|_| {}).unwrap();
    drop(f);
    let l = load_file(&p, "shop.", &tldd_zone::progress::Quiet).unwrap();
    assert!(l.problems.is_empty(), "{:?}", l.problems);
    let back = l.zone;
    assert_eq!(chain_of(&back), chain_of(&z));
    assert!(back.nsec3.as_ref().unwrap().params.opt_out);
    // NSEC3 owners are not names of the zone.
    assert_eq!(back.names.len(), z.names.len());
    signer::verify(&back).unwrap();
}

#[test]
fn sign_zone_leaves_input_unsigned() {
    let z = loaded(5);
    let cfg = tldd_dns::config::DnssecConfig {
        keystore: tldd_dns::config::KeystoreKind::Soft,
        algorithm: 13,
        nsec3_opt_out: true,
        nsec3_iterations: 0,
        nsec3_salt: String::new(),
        signature_validity: "14d".into(),
        signature_refresh: None,
        dnskey_ttl: None,
        ..Default::default()
    };
    let signed = signer::sign_zone(&z, &cfg, &keys(13)).unwrap();
    assert!(z.nsec3.is_none());
    assert!(z
        .cuts
        .get(&wire("signed.shop."))
        .unwrap()
        .ds
        .as_ref()
        .unwrap()
        .sigs()
        .next()
        .is_none());
    signer::verify(&signed).unwrap();
}
