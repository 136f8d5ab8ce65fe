//! The product's main data flow end to end: registrars (Net::EPP::Simple over
//! TLS) -> `tldd srs` -> RFC 2136 + TSIG -> `tldd serve`, for an unsigned
//! zone and for a `[zone.dnssec]` zone signed with soft keys.
//!
//! Each EPP step is followed by what a resolver sees (dnspython queries:
//! referral NS, glue, DS; with DO=1 the RRSIG over DS or the NSEC3 proof
//! that there is none) and by the zone itself (TSIG AXFR: no glue without
//! the delegation that needs it). At the end tldd's metrics must show no
//! update refused, the SRS publisher queue must be empty with no failed
//! update, and the signed zone must pass `ldns-verify-zone`.
//!
//! Covered: out-of-bailiwick and in-bailiwick name servers, sibling glue
//! (a name server under another registry domain), a host under a domain
//! that is not delegated, DS add/remove (secDNS-1.1), NS changes, host
//! address change, rename and delete, clientHold, delete into redemption,
//! restore, pending delete and purge (`lifecycle --at`).
use crate::support::serve;
use crate::support::srs as common;
use crate::support::to_tldd;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant};
use to_tldd::*;

/// Registrar reg-a logged in over EPP, with contact ca-1 and the
/// external name server ns1.example.net.
fn registrar_a(f: &Flow) -> Perl {
    let cert = f.srs.add_registrar("reg-a", "passA-123", &[]);
    let mut a = Perl::connect(&f.srs, "reg-a", "passA-123", Some(&cert));
    assert_eq!(a.login["code"], 1000, "{}", a.login);
    a.expect(1000, "create_contact", json!([contact("ca-1")]));
    host(&mut a, "ns1.example.net", &[], &[]);
    a
}

fn flow(signed: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let f = start(tmp.path(), signed, "");
    let mut a = registrar_a(&f);
    host(&mut a, "ns2.example.net", &[], &[]);

    // out-of-bailiwick name servers: a referral without glue
    domain(
        &mut a,
        "alpha.shop",
        &["ns1.example.net", "ns2.example.net"],
    );
    let ext = Want::Referral {
        ns: &["ns1.example.net.", "ns2.example.net."],
        glue: &[],
        ds: false,
    };
    f.expect("alpha created", "alpha.shop.", ext.clone());

    // a domain without NS is not in the zone; its hosts are no glue yet
    domain(&mut a, "beta.shop", &[]);
    host(&mut a, "ns1.beta.shop", &["192.0.2.1"], &["2001:db8::1"]);
    host(&mut a, "ns2.beta.shop", &["192.0.2.2"], &[]);
    f.expect("beta inactive", "beta.shop.", Want::Absent);
    f.expect_glue("beta inactive", &[]);

    // in-bailiwick NS: delegation and glue arrive together
    update(
        &mut a,
        "beta.shop",
        json!({"ns": ["ns1.beta.shop", "ns2.beta.shop"]}),
        json!({}),
    );
    let beta_glue = [
        "ns1.beta.shop. A 192.0.2.1",
        "ns1.beta.shop. AAAA 2001:db8::1",
        "ns2.beta.shop. A 192.0.2.2",
    ];
    let beta_ns: &[&str] = &["ns1.beta.shop.", "ns2.beta.shop."];
    f.expect(
        "beta delegated",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns,
            glue: &beta_glue,
            ds: false,
        },
    );
    f.expect_glue("beta delegated", &beta_glue);

    // sibling glue: gamma uses a name server under beta
    domain(&mut a, "gamma.shop", &["ns1.beta.shop", "ns1.example.net"]);
    let gamma = Want::Referral {
        ns: &["ns1.beta.shop.", "ns1.example.net."],
        glue: &[],
        ds: false,
    };
    f.expect("gamma created", "gamma.shop.", gamma.clone());

    // a host under a domain that is not delegated: used by eps, it must
    // not become an address record outside any delegation
    domain(&mut a, "delta.shop", &[]);
    host(&mut a, "ns1.delta.shop", &["192.0.2.4"], &[]);
    domain(&mut a, "eps.shop", &["ns1.delta.shop", "ns1.example.net"]);
    let eps = Want::Referral {
        ns: &["ns1.delta.shop.", "ns1.example.net."],
        glue: &[],
        ds: false,
    };
    f.expect("eps created", "eps.shop.", eps.clone());
    f.expect("delta inactive", "delta.shop.", Want::Absent);
    f.expect_glue("eps created", &beta_glue);
    // once delta is delegated (elsewhere), its host becomes glue for eps
    update(
        &mut a,
        "delta.shop",
        json!({"ns": ["ns2.example.net"]}),
        json!({}),
    );
    f.expect(
        "delta delegated",
        "delta.shop.",
        Want::Referral {
            ns: &["ns2.example.net."],
            glue: &[],
            ds: false,
        },
    );
    let mut glue2: Vec<&str> = beta_glue.to_vec();
    glue2.push("ns1.delta.shop. A 192.0.2.4");
    f.expect_glue("delta delegated", &glue2);

    // DS with secDNS-1.1
    a.raw_expect(1000, &ds_xml("add", "beta.shop"));
    f.expect(
        "beta DS",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns,
            glue: &beta_glue,
            ds: true,
        },
    );

    // a hold takes beta out with its glue, although gamma still uses ns1.beta.shop
    update(
        &mut a,
        "beta.shop",
        json!({"status": ["clientHold"]}),
        json!({}),
    );
    f.expect("beta held", "beta.shop.", Want::Absent);
    f.expect_glue("beta held", &["ns1.delta.shop. A 192.0.2.4"]);
    f.expect("beta held", "gamma.shop.", gamma.clone());
    update(
        &mut a,
        "beta.shop",
        json!({}),
        json!({"status": ["clientHold"]}),
    );
    f.expect(
        "beta released",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns,
            glue: &beta_glue,
            ds: true,
        },
    );
    f.expect_glue("beta released", &glue2);

    // NS change: ns2.beta.shop unused afterwards, its glue goes
    update(
        &mut a,
        "beta.shop",
        json!({"ns": ["ns1.example.net"]}),
        json!({"ns": ["ns2.beta.shop"]}),
    );
    let beta_glue1 = [
        "ns1.beta.shop. A 192.0.2.1",
        "ns1.beta.shop. AAAA 2001:db8::1",
    ];
    let beta_ns1: &[&str] = &["ns1.beta.shop.", "ns1.example.net."];
    f.expect(
        "beta NS changed",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns1,
            glue: &beta_glue1,
            ds: true,
        },
    );
    f.expect_glue(
        "beta NS changed",
        &[beta_glue1[0], beta_glue1[1], "ns1.delta.shop. A 192.0.2.4"],
    );

    // a linked host's addresses change: the glue follows
    a.expect(
        1000,
        "update_host",
        json!([{ "name": "ns1.beta.shop", "add": {"addrs": [{"ip": "192.0.2.11", "version": "v4"}]},
                 "rem": {"addrs": [{"ip": "2001:db8::1", "version": "v6"}]} }]),
    );
    let beta_glue2 = ["ns1.beta.shop. A 192.0.2.1", "ns1.beta.shop. A 192.0.2.11"];
    f.expect(
        "host addresses changed",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns1,
            glue: &beta_glue2,
            ds: true,
        },
    );

    // rename the unused host, use it from alpha (sibling glue), then drop it
    a.expect(
        1000,
        "update_host",
        json!([{ "name": "ns2.beta.shop", "chg": {"name": "ns3.beta.shop"} }]),
    );
    update(
        &mut a,
        "alpha.shop",
        json!({"ns": ["ns3.beta.shop"]}),
        json!({}),
    );
    f.expect(
        "alpha uses the renamed host",
        "alpha.shop.",
        Want::Referral {
            ns: &["ns1.example.net.", "ns2.example.net.", "ns3.beta.shop."],
            glue: &[],
            ds: false,
        },
    );
    f.expect_glue(
        "renamed host is glue",
        &[
            beta_glue2[0],
            beta_glue2[1],
            "ns1.delta.shop. A 192.0.2.4",
            "ns3.beta.shop. A 192.0.2.2",
        ],
    );
    update(
        &mut a,
        "alpha.shop",
        json!({}),
        json!({"ns": ["ns3.beta.shop"]}),
    );
    a.expect(1000, "delete_host", json!(["ns3.beta.shop"]));
    f.expect("alpha back", "alpha.shop.", ext.clone());
    f.expect_glue(
        "host deleted",
        &[beta_glue2[0], beta_glue2[1], "ns1.delta.shop. A 192.0.2.4"],
    );

    // DS removed: the referral is unsigned again
    a.raw_expect(1000, &ds_xml("rem", "beta.shop"));
    f.expect(
        "beta DS removed",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns1,
            glue: &beta_glue2,
            ds: false,
        },
    );

    // lifecycle: past the add grace period, delete goes to redemption (out of the zone)
    f.srs.ok(&["lifecycle", "--at", &days(6)]);
    let r = a.call("delete_domain", json!(["alpha.shop"]));
    assert_eq!(r["code"], 1001, "{r}");
    f.expect("alpha in redemption", "alpha.shop.", Want::Absent);
    a.raw_expect(
        1000,
        &cmd(&format!(
            "<update><domain:update {DOM}><domain:name>alpha.shop</domain:name><domain:chg/></domain:update></update>\
             <extension><rgp:update {RGP}><rgp:restore op=\"request\"/></rgp:update></extension>"
        )),
    );
    f.expect("alpha restored", "alpha.shop.", ext.clone());
    // delta goes to redemption: its delegation and the glue eps needs leave together
    let r = a.call("delete_domain", json!(["delta.shop"]));
    assert_eq!(r["code"], 2305, "delta has a subordinate host: {r}");
    update(
        &mut a,
        "eps.shop",
        json!({}),
        json!({"ns": ["ns1.delta.shop"]}),
    );
    a.expect(1000, "delete_host", json!(["ns1.delta.shop"]));
    let r = a.call("delete_domain", json!(["delta.shop"]));
    assert_eq!(r["code"], 1001, "{r}");
    f.expect("delta in redemption", "delta.shop.", Want::Absent);
    f.expect_glue("delta in redemption", &beta_glue2);
    let r = a.call("delete_domain", json!(["gamma.shop"]));
    assert_eq!(r["code"], 1001, "{r}");
    f.expect("gamma in redemption", "gamma.shop.", Want::Absent);
    f.expect(
        "beta unaffected",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns1,
            glue: &beta_glue2,
            ds: false,
        },
    );
    // redemption -> pending delete -> purge: out of the zone throughout
    f.srs.ok(&["lifecycle", "--at", &days(6 + 31)]);
    f.expect("gamma pending delete", "gamma.shop.", Want::Absent);
    f.srs.ok(&["lifecycle", "--at", &days(6 + 37)]);
    let r = a.expect(1000, "check_domain", json!(["gamma.shop"]));
    assert_eq!(r["result"], "1", "gamma purged: {r}");
    f.expect("gamma purged", "gamma.shop.", Want::Absent);
    f.expect(
        "eps",
        "eps.shop.",
        Want::Referral {
            ns: &["ns1.example.net."],
            glue: &[],
            ds: false,
        },
    );
    f.expect("alpha", "alpha.shop.", ext);
    drop(a);

    // Nothing refused on either side, nothing left to publish.
    let status = f.srs.ok(&["status"]);
    assert!(
        status.contains("publisher_queue 0") && status.contains("publisher_blocked no"),
        "{status}"
    );
    let srs_metrics = f.srs.metrics();
    let pubs = metric_lines(&srs_metrics, "tldd_srs_publisher_updates_total");
    assert!(pubs.iter().any(|l| l.contains("result=\"ok\"")), "{pubs:?}");
    for l in &pubs {
        assert!(
            l.contains("result=\"ok\"") || l.ends_with(" 0"),
            "SRS publisher failures: {pubs:?}\n{}",
            f.srs.log()
        );
    }
    let depth = metric_lines(&srs_metrics, "tldd_srs_publisher_queue_depth");
    assert_eq!(
        depth,
        vec!["tldd_srs_publisher_queue_depth 0".to_string()],
        "{status}"
    );
    let tm = http_metrics(f.tldd.metrics.expect("tldd metrics address"));
    let ups = metric_lines(&tm, "tldd_updates_total");
    assert!(
        ups.iter().any(|l| l.contains("result=\"accepted\"")),
        "{ups:?}"
    );
    for l in &ups {
        assert!(
            l.contains("result=\"accepted\"") || l.ends_with(" 0"),
            "tldd refused updates: {ups:?}"
        );
    }
    let log = f.tldd.log.lock().unwrap().join("\n");
    assert!(!log.contains("update refused"), "{log}");
    if signed {
        verify_zone(&f);
    }
}

#[test]
fn srs_publishes_to_tldd_unsigned() {
    flow(false);
}

#[test]
fn srs_publishes_to_tldd_signed() {
    flow(true);
}

/// A change the server refuses (here: the zone has registry data at a name
/// a registrar registers) must not be retried silently: ERROR in the SRS
/// log, `result="refused"`, the blocked gauge, and `status` naming it. A
/// change queued before it, sent in the same merged message, still gets
/// published.
#[test]
fn a_refused_change_is_visible() {
    let tmp = tempfile::tempdir().unwrap();
    let mut f = start(tmp.path(), false, "taken TXT \"registry data\"\n");
    let mut a = registrar_a(&f);
    domain(&mut a, "fine.shop", &["ns1.example.net"]);
    f.expect(
        "fine.shop published",
        "fine.shop.",
        Want::Referral {
            ns: &["ns1.example.net."],
            glue: &[],
            ds: false,
        },
    );
    // tldd down: two changes queue up and go out merged once it is back
    let port = f.port();
    serve::unsafe_kill(f.tldd.child.id(), 9);
    let _ = f.tldd.child.wait();
    domain(&mut a, "early.shop", &["ns1.example.net"]);
    domain(&mut a, "taken.shop", &["ns1.example.net"]);
    let cfg = tmp.path().join("tldd.toml");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("127.0.0.1:0\"]", &format!("127.0.0.1:{port}\"]"));
    std::fs::write(&cfg, text).unwrap();
    f.tldd = serve::Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    f.expect(
        "early.shop published despite the refused change after it",
        "early.shop.",
        Want::Referral {
            ns: &["ns1.example.net."],
            glue: &[],
            ds: false,
        },
    );
    let end = Instant::now() + Duration::from_secs(30);
    while !f.srs.metrics().contains("\ntldd_srs_publisher_blocked 1\n") {
        assert!(Instant::now() < end, "never blocked:\n{}", f.srs.metrics());
        std::thread::sleep(Duration::from_millis(200));
    }
    let m = f.srs.metrics();
    let refused = metric_lines(&m, "tldd_srs_publisher_updates_total{result=\"refused\"}");
    assert!(!refused.is_empty() && !refused[0].ends_with(" 0"), "{m}");
    let status = f.srs.ok(&["status"]);
    assert!(
        status.contains("publisher_queue 1")
            && status.contains("publisher_blocked operation")
            && status.contains("taken.shop")
            && status.contains("since"),
        "{status}"
    );
    // The server's reason came with the refusal (RFC 8914 EDE 18,
    // Prohibited), so the operator need not read tldd's log.
    assert!(status.contains("(EDE 18: "), "{status}");
    let log = f.srs.log();
    assert!(log.contains("refused a queued change"), "{log}");
    assert!(log.contains("merged DNS update refused"), "{log}");
    let tm = http_metrics(f.tldd.metrics.unwrap());
    assert!(tm.contains("result=\"policy_authoritative\""), "{tm}");
    // the zone keeps its data; the delegation was not published
    let txt = query(f.port(), "taken.shop.", "TXT", false);
    assert_eq!(txt.rcode, "NOERROR");
    assert!(txt.aa);

    // The operator sees the change, drops it, and the queue moves on: a
    // change made after it is published.
    let queue = f.srs.ok(&["publisher", "queue"]);
    let line = queue.lines().next().unwrap_or_default();
    assert!(line.contains("taken.shop"), "{queue}");
    let id = line.split('\t').next().unwrap().to_string();
    domain(&mut a, "later.shop", &["ns1.example.net"]);
    let out = f.srs.ok(&["publisher", "drop", "--id", &id]);
    assert!(
        out.contains("dropped DNS change") && out.contains("taken.shop"),
        "{out}"
    );
    f.expect(
        "later.shop published after the drop",
        "later.shop.",
        Want::Referral {
            ns: &["ns1.example.net."],
            glue: &[],
            ds: false,
        },
    );
    let status = f.srs.ok(&["status"]);
    assert!(
        status.contains("publisher_queue 0") && status.contains("publisher_blocked no"),
        "{status}"
    );
    let (ok, _, err) = f.srs.cli(&["publisher", "drop", "--id", &id]);
    assert!(!ok, "dropping it twice: {err}");
}

/// The primary loses its store and comes back from its zone file (the
/// apex only); `tldd srs reconcile` sends the whole registry again, one
/// owner name per message (`batch = 1`), and tldd's update policy accepts
/// every message: a delegation with its own glue in one, sibling glue
/// after the delegation that names it. Nothing blocks the publisher.
#[test]
fn reconcile_rebuilds_a_primary_that_lost_its_store() {
    let tmp = tempfile::tempdir().unwrap();
    let mut f = start(tmp.path(), false, "");
    let mut a = registrar_a(&f);
    domain(&mut a, "b.shop", &["ns1.example.net"]);
    host(&mut a, "ns1.b.shop", &["192.0.2.10"], &[]);
    domain(&mut a, "a.shop", &["ns1.b.shop"]);
    domain(&mut a, "c.shop", &[]);
    host(&mut a, "ns1.c.shop", &["192.0.2.30"], &[]);
    update(&mut a, "c.shop", json!({"ns": ["ns1.c.shop"]}), json!({}));
    for d in ["d1.shop", "d2.shop"] {
        domain(&mut a, d, &["ns1.example.net"]);
    }
    let wants = |f: &Flow, step: &str| {
        let ext = Want::Referral {
            ns: &["ns1.example.net."],
            glue: &[],
            ds: false,
        };
        for d in ["b.shop.", "d1.shop.", "d2.shop."] {
            f.expect(step, d, ext.clone());
        }
        // Sibling glue is in the zone, not in a.shop's referral.
        f.expect(
            step,
            "a.shop.",
            Want::Referral {
                ns: &["ns1.b.shop."],
                glue: &[],
                ds: false,
            },
        );
        f.expect(
            step,
            "c.shop.",
            Want::Referral {
                ns: &["ns1.c.shop."],
                glue: &["ns1.c.shop. A 192.0.2.30"],
                ds: false,
            },
        );
        f.expect_glue(
            step,
            &["ns1.b.shop. A 192.0.2.10", "ns1.c.shop. A 192.0.2.30"],
        );
    };
    wants(&f, "published");
    drop(a);
    // The primary loses its store: back from the zone file, apex only.
    let port = f.port();
    serve::unsafe_kill(f.tldd.child.id(), 9);
    let _ = f.tldd.child.wait();
    std::fs::remove_dir_all(tmp.path().join("tldd-data")).unwrap();
    let cfg = tmp.path().join("tldd.toml");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("127.0.0.1:0\"]", &format!("127.0.0.1:{port}\"]"));
    std::fs::write(&cfg, text).unwrap();
    f.tldd = serve::Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    f.expect("store lost", "a.shop.", Want::Absent);
    // One owner name per UPDATE: the order of the repairs is what counts.
    f.srs.stop();
    let srs_cfg = std::fs::read_to_string(&f.srs.config).unwrap().replacen(
        "timeout = 3\n",
        "timeout = 3\nbatch = 1\n",
        1,
    );
    std::fs::write(&f.srs.config, srs_cfg).unwrap();
    f.srs.start();
    let out = f.srs.ok(&["reconcile"]);
    assert!(out.contains("repairs queued"), "{out}");
    wants(&f, "reconciled");
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let status = f.srs.ok(&["status"]);
        if status.contains("publisher_queue 0") {
            assert!(status.contains("publisher_blocked no"), "{status}");
            break;
        }
        assert!(Instant::now() < end, "the queue never drained: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = f.srs.log();
    assert!(!log.contains("refused a queued change"), "{log}");
}
