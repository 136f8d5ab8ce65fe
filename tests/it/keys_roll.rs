//! DNSSEC key rollovers as a real resolver sees them: tldd serving a signed
//! `shop.` with TTLs of a few seconds, a [`Parent`] root zone holding
//! `shop.`'s DS, a caching, validating Unbound whose only trust anchor is
//! the root's KSK, and a [`Watcher`] asking it the same questions every
//! 150 ms, writing down every SERVFAIL or missing AD. A rollover is right
//! when the watcher saw nothing through it.
//!
//! Needs ldnsutils, knot, knot-dnsutils and unbound.
use crate::support::dnssec::{dnssec_options, keys, write_config, write_zone_ttl};
use crate::support::keys::parse_ds;
use crate::support::parent::Parent;
use crate::support::peers::{unbound_caching, Unbound};
use crate::support::serve::Server;
use crate::support::watch::{ask, Expect, Watcher};
use std::path::PathBuf;
use std::time::Duration;

/// TTL of every record of the child zone, its DNSKEY RRset and negative
/// answers included, in seconds.
const TTL: u32 = 3;

/// The child's name servers, as the parent delegates to them (they are
/// `shop.`'s own NS names; resolvers reach tldd through a stub zone).
const CHILD_NS: &[&str] = &["a.nic.shop.", "b.nic.shop."];

/// The whole chain of trust, root to `shop.`, and the resolver in front of
/// it; dropped resolver first, tldd last.
struct Chain {
    unbound: Unbound,
    parent: Parent,
    /// tldd's config, for `tldd keys -c`.
    cfg: PathBuf,
    tldd: Server,
}

impl Chain {
    /// tldd signing [`write_zone_ttl`]'s zone (TTLs [`TTL`], soft KSK and
    /// ZSK, algorithm 13, NSEC3 without opt-out so that denials are
    /// secure), a [`Parent`] with the DS `tldd keys ds` prints, and a
    /// caching Unbound with the root's trust anchor and stubs for `.` and
    /// `shop.`. Checks that the chain validates (AD on `shop. SOA` and on
    /// the parent's `shop. DS`) before it returns.
    fn new() -> Chain {
        let dir = tempfile::tempdir().unwrap();
        let zone = write_zone_ttl(dir.path(), 0, TTL);
        let cfg = write_config(dir.path(), &zone, Some((13, false, "", 0)), "127.0.0.1:0");
        dnssec_options(&cfg, &format!("dnskey_ttl = \"{TTL}s\""));
        let tldd = Server::start_with_config(&cfg, dir);
        let ds = keys(&cfg, &["ds", "--zone", "shop."]);
        let parent = Parent::new("shop.", CHILD_NS, &ds);
        let unbound = unbound_caching(
            &parent.trust_anchor(),
            &[(".", parent.port()), ("shop.", tldd.port())],
        );
        for (name, t) in [("shop.", "SOA"), ("shop.", "DS")] {
            let a = ask(unbound.port, name, t).unwrap();
            if let Err(why) = a.check(Expect::SecureNoError) {
                panic!(
                    "{name} {t} does not validate through the parent: {why}\nroot zone:\n{}\nunbound log:\n{}",
                    parent.zone(),
                    unbound.log()
                );
            }
        }
        Chain {
            unbound,
            parent,
            cfg,
            tldd,
        }
    }
}

/// The questions the watcher asks: apex data, the DNSKEY RRset, a name
/// with data, a signed delegation's DS, a name that does not exist.
fn watched() -> Vec<(String, String, Expect)> {
    [
        ("shop.", "SOA", Expect::SecureNoError),
        ("shop.", "DNSKEY", Expect::SecureNoError),
        ("nic.shop.", "A", Expect::SecureNoError),
        ("signed.shop.", "DS", Expect::SecureNoError),
        ("nope.shop.", "A", Expect::SecureNxdomain),
    ]
    .into_iter()
    .map(|(n, t, e)| (n.to_string(), t.to_string(), e))
    .collect()
}

/// `ds` with the last hex digit of every digest changed: DS records that
/// match no key.
fn wrong_ds(ds: &str) -> String {
    ds.lines()
        .map(|l| {
            let (head, last) = l.trim_end().split_at(l.trim_end().len() - 1);
            format!("{head}{}\n", if last == "0" { '1' } else { '0' })
        })
        .collect()
}

#[test]
fn validation_through_a_parent_works() {
    let mut c = Chain::new();
    // The parent serves what tldd hands it (TTL aside).
    assert_eq!(
        parse_ds(c.parent.ds()),
        parse_ds(&keys(&c.cfg, &["ds", "--zone", "shop."]))
    );
    let w = Watcher::start(c.unbound.port, watched());
    std::thread::sleep(Duration::from_secs(5));
    assert!(w.queries_so_far() > 0, "the watcher asked nothing");
    assert_eq!(
        w.failures_so_far(),
        Vec::<String>::new(),
        "a sound chain failed to validate; unbound log:\n{}",
        c.unbound.log()
    );

    // A watcher that cannot fail proves nothing: break the chain at the
    // parent and wait for it to notice once the caches let go.
    let wrong = wrong_ds(c.parent.ds());
    assert_ne!(parse_ds(&wrong), parse_ds(c.parent.ds()));
    w.mark("parent: a DS matching no key");
    c.parent.set_ds(&wrong);
    w.mark("parent: serving it");
    let ttls = Duration::from_secs((c.parent.ds_ttl() + TTL).into());
    assert!(
        w.wait_for_failure(ttls * 10),
        "a wrong DS went unnoticed; unbound log:\n{}",
        c.unbound.log()
    );
    w.rounds(2);
    let report = w.stop();
    // The child itself still answers: it is the chain that broke.
    let direct = ask(c.tldd.port(), "shop.", "SOA").unwrap();
    assert!(direct.rcode == 0 && direct.matching == 1, "{}", direct.text);
    eprintln!(
        "{} questions, {} failures; first: {}",
        report.queries,
        report.failures.len(),
        report.failures[0]
    );
    assert!(
        report.failures.iter().any(|f| f.contains("SERVFAIL")),
        "bogus answers are SERVFAIL: {:#?}",
        report.failures
    );
}
