//! Criterion benches of the query fast path, in process (no sockets):
//! zone lookup and whole-response building on a generated 100k-delegation
//! TLD zone with the TLD query mix (referrals, DS, NXDOMAIN, apex).
//!
//! `cargo bench --bench query`. Socket-level comparisons with NSD and Knot
//! are in `benches/peers.sh`.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::Write;
use tldd_dns::wire::{respond, respond_from, Client, Params, Query, Transport, ZoneSet};
use tldd_zone::load::load_file;

const N: usize = 100_000;

fn label(i: usize) -> String {
    // Deterministic pseudo-random labels of 4..14 characters.
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xdead_beef;
    let len = 4 + (x % 11) as usize;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            b"abcdefghijklmnopqrstuvwxyz0123456789"[(x >> 33) as usize % 36] as char
        })
        .collect::<String>()
        + &format!("{i}")
}

fn zone_file(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("shop.zone");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    writeln!(
        f,
        "$ORIGIN shop.\n$TTL 3600\n@ 86400 IN SOA a.nic hm.nic 1 1800 900 604800 900"
    )
    .unwrap();
    for ns in ["a", "b"] {
        writeln!(
            f,
            "@ NS {ns}.nic\n{ns}.nic A 192.0.2.1\n{ns}.nic AAAA 2001:db8::1"
        )
        .unwrap();
    }
    for i in 0..N {
        let d = label(i);
        if i % 10 < 3 {
            writeln!(f, "{d} NS ns1.{d}\n{d} NS ns2.{d}\nns1.{d} A 198.51.100.1\nns2.{d} A 203.0.113.1\nns1.{d} AAAA 2001:db8::2").unwrap();
        } else {
            writeln!(
                f,
                "{d} NS ns1.host{}.example.\n{d} NS ns2.host{}.example.",
                i % 977,
                i % 977
            )
            .unwrap();
        }
        if i % 7 == 0 {
            writeln!(f, "{d} DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF").unwrap();
        }
    }
    p
}

fn packet(id: u16, name: &str, qtype: u16, dnssec: bool) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    for l in name.split('.').filter(|l| !l.is_empty()) {
        p.push(l.len() as u8);
        p.extend_from_slice(l.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&[0, 1]);
    p.extend_from_slice(&[
        0,
        0,
        41,
        0x04,
        0xd0,
        0,
        0,
        if dnssec { 0x80 } else { 0 },
        0,
        0,
        0,
    ]);
    p
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = zone_file(dir.path());
    let zone = load_file(&path, "shop.", &tldd_zone::progress::Quiet)
        .unwrap()
        .zone;
    let zones = ZoneSet::new(vec![std::sync::Arc::new(zone)]);
    let params = Params {
        udp_payload: 1232,
        ..Default::default()
    };
    // The TLD mix: 60% below delegations, 10% DS, 20% NXDOMAIN, 10% apex.
    let mut queries = Vec::new();
    for i in 0..20_000usize {
        let d = label((i * 7919) % N);
        let q = match i % 10 {
            0..=5 => packet(i as u16, &format!("www.{d}.shop"), [1, 28, 15][i % 3], true),
            6 => packet(i as u16, &format!("{d}.shop"), 43, true),
            7 | 8 => packet(i as u16, &format!("nx{i}.shop"), 1, true),
            _ => packet(i as u16, "shop", [6, 2, 48][i % 3], true),
        };
        queries.push(q);
    }
    let mut q = Query::default();
    let mut out = vec![0u8; 65535];
    let mut g = c.benchmark_group("respond");
    g.throughput(Throughput::Elements(queries.len() as u64));
    g.bench_function("tld_mix_100k_do", |b| {
        b.iter(|| {
            let mut total = 0;
            for p in &queries {
                total += respond(&zones, &params, p, &mut q, &mut out, Transport::Udp).0;
            }
            total
        })
    });
    // The servers' call: with the client's address (cookies judged). The
    // same queries without a COOKIE option, then each with a client cookie
    // (one SipHash-2-4 per query) and with a valid server cookie (one to
    // verify).
    let secrets = tldd_dns::wire::cookie::Secrets {
        current: tldd_dns::wire::cookie::Secret([7; 16]),
        previous: None,
    };
    let client = Client {
        ip: "192.0.2.1".parse().unwrap(),
        now: 1_700_000_000,
        cookies: &secrets,
    };
    let with_cookie = |cookie: &[u8]| -> Vec<Vec<u8>> {
        queries
            .iter()
            .map(|p| {
                let mut p = p.clone();
                let n = p.len();
                p[n - 2..].copy_from_slice(&(4 + cookie.len() as u16).to_be_bytes());
                p.extend_from_slice(&[0, 10, 0, cookie.len() as u8]);
                p.extend_from_slice(cookie);
                p
            })
            .collect()
    };
    let client_only = with_cookie(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let mut full = [0u8; 24];
    let cc = [1, 2, 3, 4, 5, 6, 7, 8];
    tldd_dns::wire::cookie::answer(&cc, client.ip, client.now, &secrets, &mut full);
    let valid = with_cookie(&full);
    for (name, set) in [
        ("tld_mix_100k_do_from_client", &queries),
        ("tld_mix_100k_do_client_cookie", &client_only),
        ("tld_mix_100k_do_valid_cookie", &valid),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut total = 0;
                for p in set {
                    let t = Transport::Udp;
                    total += respond_from(&zones, &params, p, &mut q, &mut out, t, Some(&client)).0;
                }
                total
            })
        });
    }
    g.finish();
    // Rate limiting's cost per response when nobody is limited: one hash
    // of (prefix, class, name) and one compare-and-swap, over 20k keys
    // (20k /24 prefixes) that never reach the rate.
    let rrl = tldd_dns::server::rrl::Rrl::new(&tldd_dns::server::rrl::Settings {
        rate: 200,
        slip: 2,
        allow: Vec::new(),
        table_size: 1 << 18,
    })
    .unwrap();
    let keys: Vec<(std::net::IpAddr, Vec<u8>)> = (0..20_000u32)
        .map(|i| {
            let ip = std::net::IpAddr::from([10, (i >> 8) as u8, i as u8, 1]);
            let mut name = vec![];
            tldd_zone::name::from_text(
                label(i as usize).as_bytes(),
                b"\x04shop\x00",
                true,
                &mut name,
            )
            .unwrap();
            (ip, name)
        })
        .collect();
    let mut g = c.benchmark_group("rrl");
    g.throughput(Throughput::Elements(keys.len() as u64));
    let mut now = 1_700_000_000u32;
    g.bench_function("check_20k_unlimited", |b| {
        b.iter(|| {
            // A new second each pass: every bucket refills, nothing limits.
            now += 1;
            let mut passed = 0;
            for (ip, name) in &keys {
                let class = tldd_dns::server::rrl::Class::Answer;
                if rrl.check(*ip, class, name, now) == tldd_dns::server::rrl::Verdict::Pass {
                    passed += 1;
                }
            }
            passed
        })
    });
    g.finish();
    let z = &zones.zones()[0];
    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(queries.len() as u64));
    g.bench_function("find_100k", |b| {
        b.iter(|| {
            let mut hits = 0;
            for p in &queries {
                tldd_dns::wire::query::parse(p, &mut q).unwrap();
                if let tldd_zone::Found::Cut { .. } = z.find(q.name(), &q.labels[..q.label_count]) {
                    hits += 1;
                }
            }
            hits
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
