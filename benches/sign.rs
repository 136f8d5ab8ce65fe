//! Signer micro-benchmarks: one RRSIG over a DS RRset, one NSEC3 hash,
//! full signing and verification of a generated 20k-delegation zone
//! (15% with DS, opt-out). The 1M-delegation figures come from
//! `tldd sign` itself (see the signer's report / README).
use criterion::{criterion_group, criterion_main, Criterion};
use std::io::Write;
use tldd_dns::signer::{self, Scratch, SignOptions, Signer, TestKey};
use tldd_zone::nsec3::hash_name;
use tldd_zone::RRset;

fn zone(n: usize) -> tldd_zone::Zone {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("z.zone");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    writeln!(f, "$ORIGIN shop.\n@ 86400 IN SOA a.nic.shop. h.nic.shop. 1 1800 900 604800 900\n@ 86400 IN NS a.nic.shop.\na.nic 86400 IN A 192.0.2.1").unwrap();
    for i in 0..n {
        writeln!(f, "dom{i} 86400 IN NS ns1.host{}.example.", i % 100).unwrap();
        writeln!(f, "dom{i} 86400 IN NS ns2.host{}.example.", i % 100).unwrap();
        if i % 7 == 0 {
            writeln!(
                f,
                "dom{i} 86400 IN DS {} 13 2 {:064X}",
                i % 65535,
                i as u128 * 7919
            )
            .unwrap();
        }
    }
    drop(f);
    tldd_zone::load::load_file(&p, "shop.", &tldd_zone::progress::Quiet)
        .unwrap()
        .zone
}

fn opts() -> SignOptions {
    SignOptions {
        opt_out: true,
        iterations: 0,
        salt: vec![],
        validity: 14 * 86400,
        inception_offset: 3600,
        dnskey_ttl: 3600,
        now: signer::sign::unix_now(),
    }
}

fn benches(c: &mut Criterion) {
    let keys = vec![
        TestKey::generate(13, true).unwrap(),
        TestKey::generate(13, false).unwrap(),
    ];
    let o = opts();
    let origin = b"\x04shop\x00";
    let s = Signer::new(origin, &keys, &o).unwrap();
    let owner = b"\x07example\x04shop\x00";
    let mut ds = RRset::new(
        43,
        86400,
        &[&[
            0x30, 0x39, 13, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
            20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
        ]],
    );
    let mut sc = Scratch::default();
    c.bench_function("sign one DS RRset (P-256)", |b| {
        b.iter(|| s.sign_rrset(owner, &mut ds, &mut sc).unwrap())
    });
    c.bench_function("NSEC3 hash (0 iterations, no salt)", |b| {
        b.iter(|| hash_name(std::hint::black_box(owner), &[], 0))
    });
    let z = zone(20_000);
    let mut g = c.benchmark_group("20k delegations");
    g.sample_size(10);
    g.bench_function("full signing", |b| {
        b.iter(|| {
            let mut zz = z.clone();
            signer::sign_in_place(&mut zz, &o, &keys, &|_| {}).unwrap()
        })
    });
    let mut signed = z.clone();
    signer::sign_in_place(&mut signed, &o, &keys, &|_| {}).unwrap();
    g.bench_function("verify", |b| b.iter(|| signer::verify(&signed).unwrap()));
    g.finish();
}

criterion_group!(sign, benches);
criterion_main!(sign);
