use super::*;
use crate::signer::{SigningKey, TestKey};

const ORIGIN: &[u8] = b"\x04shop\x00";

fn slot(at: u64, ksk: &TestKey, zsks: &[&TestKey], validity: u32) -> SkrSlot {
    let opts = SignOptions {
        opt_out: true,
        iterations: 0,
        salt: vec![],
        validity,
        inception_offset: 3600,
        dnskey_ttl: 60,
        now: at,
    };
    let keys = [ksk];
    let signer = Signer::new(ORIGIN, &keys, &opts).unwrap();
    let mut rds: Vec<&[u8]> = vec![ksk.dnskey_rdata()];
    rds.extend(zsks.iter().map(|z| z.dnskey_rdata()));
    let mut dnskey = RRset::new(DNSKEY, 60, &rds);
    signer
        .sign_rrset(ORIGIN, &mut dnskey, &mut Scratch::default())
        .unwrap();
    SkrSlot {
        at,
        dnskey,
        cds: None,
        cdnskey: None,
    }
}

#[test]
fn an_skr_survives_its_text_and_its_signatures_are_checked() {
    let ksk = TestKey::generate(13, true).unwrap();
    let (z1, z2) = (
        TestKey::generate(13, false).unwrap(),
        TestKey::generate(13, false).unwrap(),
    );
    let t0 = 1_800_000_000;
    let skr = Skr {
        slots: vec![
            slot(t0, &ksk, &[&z1], 7200),
            slot(t0 + 100, &ksk, &[&z1, &z2], 7200),
            slot(t0 + 200, &ksk, &[&z2], 7200),
        ],
    };
    let text = skr_text(ORIGIN, &skr, t0);
    let back = parse_skr(
        Path::new("t.skr"),
        std::str::from_utf8(&text).unwrap(),
        "shop.",
    )
    .unwrap();
    assert_eq!(back, skr);
    let mut sc = Scratch::default();
    let s = &back.slots[1];
    check_signed(ORIGIN, &s.dnskey, &s.dnskey, s.at, t0 + 200, &mut sc).unwrap();
    // Not valid long enough: the next slot starts after the expiry.
    assert!(check_signed(ORIGIN, &s.dnskey, &s.dnskey, s.at, t0 + 100 + 7200, &mut sc).is_err());
    // A flipped bit does not verify.
    let mut bad = s.dnskey.clone();
    let mut sig = bad.sigs().next().unwrap().to_vec();
    let n = sig.len() - 1;
    sig[n] ^= 1;
    bad.set_sigs(&[&sig]);
    assert!(check_signed(ORIGIN, &bad, &bad, s.at, s.at, &mut sc).is_err());
    // A ZSK's signature over the DNSKEY RRset is no KSK's.
    let zs = slot(t0, &z1, &[&z1], 7200);
    assert!(check_signed(ORIGIN, &zs.dnskey, &zs.dnskey, t0, t0, &mut sc).is_err());

    // The slot served follows the published ZSKs.
    let one: BTreeSet<u16> = [z1.key_tag()].into();
    let both: BTreeSet<u16> = [z1.key_tag(), z2.key_tag()].into();
    assert_eq!(serving_slot(&skr, &one, t0 + 50).unwrap().at, t0);
    assert_eq!(serving_slot(&skr, &both, t0 + 250).unwrap().at, t0 + 100);
    assert!(serving_slot(&skr, &both, t0 + 50).is_none());
    assert_eq!(skr.slot_at(t0 + 150).unwrap().at, t0 + 100);
    assert_eq!(skr.next_after(t0 + 150), Some(t0 + 200));
    assert_eq!(skr.runs_out(), Some(t0 + 200 + 7200));
}
