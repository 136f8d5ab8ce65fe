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
use crate::support::peers::{knot_secondary, unbound_caching, Peer, Unbound};
use crate::support::ports::free_port;
use crate::support::serve::Server;
use crate::support::update::{axfr, serial_at, wait_for, SECRET};
use crate::support::watch::{ask, Expect, Watcher};
use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    /// A Knot secondary of tldd (NOTIFY, IXFR with xfr-key).
    knot: Peer,
    tldd: Server,
    /// Config, zone and data directory: outlive a restart of `tldd`.
    dir: tempfile::TempDir,
}

impl Chain {
    /// tldd signing [`write_zone_ttl`]'s zone (TTLs [`TTL`], soft KSK and
    /// ZSK, algorithm 13, NSEC3 without opt-out so that denials are
    /// secure), a [`Parent`] with the DS `tldd keys ds` prints, and a
    /// caching Unbound with the root's trust anchor and stubs for `.` and
    /// `shop.`. Checks that the chain validates (AD on `shop. SOA` and on
    /// the parent's `shop. DS`) before it returns.
    fn new() -> Chain {
        Self::with_policy("")
    }

    /// [`Chain::new`] with more `[zone.dnssec]` lines (the rollover
    /// timings), tldd on a fixed port (so that it can be restarted under
    /// the same stub) and AXFR allowed from loopback.
    fn with_policy(policy: &str) -> Chain {
        Self::build(|_| policy.to_string())
    }

    /// [`Chain::with_policy`], the policy lines made knowing the parent
    /// (its port, for `ksk_submission`).
    fn build(policy: impl FnOnce(&Parent) -> String) -> Chain {
        let dir = tempfile::tempdir().unwrap();
        let zone = write_zone_ttl(dir.path(), 20, TTL);
        let listen = format!("127.0.0.1:{}", free_port());
        let cfg = write_config(dir.path(), &zone, Some((13, false, "", 0)), &listen);
        let ds = keys(&cfg, &["ds", "--zone", "shop."]);
        let parent = Parent::new("shop.", CHILD_NS, &ds);
        dnssec_options(
            &cfg,
            &format!("dnskey_ttl = \"{TTL}s\"\n{}", policy(&parent)),
        );
        // Transfers with xfr-key, NOTIFY to a Knot secondary.
        let knot_port = free_port();
        let text = std::fs::read_to_string(&cfg)
            .unwrap()
            .replacen(
                "[zone.dnssec]",
                &format!(
                    "allow_transfer = [\"127.0.0.1\"]\ntransfer_key = \"xfr-key\"\n\
                     notify = [\"127.0.0.1:{knot_port}\"]\n[zone.dnssec]"
                ),
                1,
            )
            .replacen(
                "[[zone]]",
                &format!(
                    "[[tsig]]\nname = \"xfr-key\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET}\"\n[[zone]]"
                ),
                1,
            );
        std::fs::write(&cfg, text).unwrap();
        let tldd = Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
        let knot = knot_secondary(knot_port, tldd.addr);
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
            knot,
            tldd,
            dir,
        }
    }

    /// The Knot secondary reaches tldd's serial (by NOTIFY and IXFR: every
    /// key step's version is a journalled diff) and serves the same zone.
    fn assert_secondary_follows(&self) {
        let want = serial_at(self.tldd.addr);
        assert!(
            wait_for(30, || serial_at(self.knot.addr) == want),
            "knot at {:?}, tldd at {want:?}\n{}",
            serial_at(self.knot.addr),
            self.knot.log()
        );
        assert_eq!(
            axfr(self.knot.addr),
            axfr(self.tldd.addr),
            "Knot's copy differs"
        );
        assert!(self.knot.log().contains("IXFR"), "{}", self.knot.log());
    }

    /// Stops tldd (SIGTERM) and starts it again on the same port and data.
    fn restart(&mut self) {
        crate::support::serve::unsafe_kill(self.tldd.child.id(), 15);
        let _ = self.tldd.child.wait();
        self.tldd = Server::start_with_config(&self.cfg, tempfile::tempdir().unwrap());
    }

    /// `tldd keys status` of `shop.`, one entry per key.
    fn status(&self) -> Vec<KeyLine> {
        keys(&self.cfg, &["status", "--zone", "shop."])
            .lines()
            .filter_map(KeyLine::parse)
            .collect()
    }

    /// AXFR from tldd, checked by ldns-verify-zone; returns the zone text.
    fn verify_axfr(&self, what: &str) -> String {
        let o = std::process::Command::new("kdig")
            .args(["@127.0.0.1", "-p", &self.tldd.port().to_string(), "+time=5"])
            .args(["-y", &format!("hmac-sha256:xfr-key:{SECRET}")])
            .args(["shop.", "AXFR", "+nocomments", "+nostats"])
            .output()
            .unwrap();
        let text: String = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with(';') && !l.trim().is_empty() && !l.contains("\tTSIG\t"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(text.contains("SOA"), "{what}: no AXFR: {text}");
        let file = self.dir.path().join("axfr.zone");
        std::fs::write(&file, &text).unwrap();
        let v = std::process::Command::new("ldns-verify-zone")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            v.status.success(),
            "{what}: ldns-verify-zone: {}{}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
        text
    }

    /// Polls `status` until `done` holds (panics after `limit`); at every
    /// change of any key's state an AXFR is verified and the watcher marked.
    /// Returns the distinct state vectors seen, in order.
    fn follow(
        &self,
        w: &Watcher,
        limit: Duration,
        done: impl Fn(&[KeyLine]) -> bool,
    ) -> Vec<Vec<(u16, String)>> {
        let deadline = Instant::now() + limit;
        let mut seen: Vec<Vec<(u16, String)>> = Vec::new();
        loop {
            let st = self.status();
            let states: Vec<(u16, String)> = st.iter().map(|k| (k.tag, k.state.clone())).collect();
            if seen.last() != Some(&states) {
                w.mark(&format!("key states {states:?}"));
                self.verify_axfr(&format!("at {states:?}"));
                seen.push(states);
            }
            if done(&st) {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "the roll did not finish; states seen {seen:?}; now {st:?}; watcher failures {:?}; tldd log:\n{}",
                w.failures_so_far(),
                self.tldd.log.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// `tldd ctl -c CONFIG ARGS...`; its stdout (panics unless it succeeds).
fn ctl(cfg: &std::path::Path, args: &[&str]) -> String {
    let o = std::process::Command::new(crate::support::dnssec::bin())
        .args(["ctl", "-c"])
        .arg(cfg)
        .args(args)
        .env("TLDD_OPERATOR", "test")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tldd ctl {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One line of `tldd keys status`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyLine {
    tag: u16,
    role: String,
    alg: u8,
    state: String,
    next: String,
}

impl KeyLine {
    /// `ZONE TAG ROLE ALG KEYSTORE STATE NEXT AT`; other lines are `None`.
    fn parse(l: &str) -> Option<KeyLine> {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() != 8 {
            return None;
        }
        Some(KeyLine {
            tag: f[1].parse().ok()?,
            role: f[2].to_string(),
            alg: f[3].parse().ok()?,
            state: f[5].to_string(),
            next: f[6].to_string(),
        })
    }
}

/// Fast rollover timings: the DNSKEY TTL is [`TTL`], the parent's DS TTL
/// is the [`Parent`]'s.
const POLICY: &str = "propagation_delay = \"1s\"\npublish_safety = \"1s\"\nretire_safety = \"1s\"\nparent_ds_ttl = \"3s\"\n";

/// The served DNSKEY tags (as `kdig +short` gives them, by key tag).
fn served_tags(port: u16) -> Vec<u16> {
    let o = std::process::Command::new("kdig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+short",
            "shop.",
            "DNSKEY",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    let mut tags: Vec<u16> = crate::support::keys::parse_dnskeys(
        &text
            .lines()
            .map(|l| format!("shop. 3 IN DNSKEY {l}\n"))
            .collect::<String>(),
    )
    .iter()
    .map(|k| k.tag())
    .collect();
    tags.sort_unstable();
    tags
}

fn of_role<'a>(st: &'a [KeyLine], role: &str, state: &str) -> Vec<&'a KeyLine> {
    st.iter()
        .filter(|k| k.role == role && k.state == state)
        .collect()
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

#[test]
fn zsk_roll_keeps_every_answer_secure_across_a_restart() {
    let mut c = Chain::with_policy(POLICY);
    let before = c.status();
    let old_zsk = of_role(&before, "zsk", "active")[0].tag;
    let ksk = of_role(&before, "ksk", "active")[0].tag;
    let w = Watcher::start(c.unbound.port, watched());
    w.rounds(2);
    let out = keys(&c.cfg, &["roll", "--zone", "shop.", "--role", "zsk"]);
    assert!(out.contains("DNSKEY 256 3 13"), "{out}");
    // Pre-published: served, not signing.
    let seen = c.follow(&w, Duration::from_secs(30), |st| {
        !of_role(st, "zsk", "published").is_empty()
    });
    let new_zsk = of_role(&c.status(), "zsk", "published")[0].tag;
    assert_eq!(served_tags(c.tldd.port()), {
        let mut v = vec![ksk, old_zsk, new_zsk];
        v.sort_unstable();
        v
    });
    // A restart in the middle of the roll: it resumes.
    w.mark("restart");
    c.restart();
    let seen2 = c.follow(&w, Duration::from_secs(90), |st| {
        st.iter().any(|k| k.tag == old_zsk && k.state == "retired")
    });
    w.rounds(3);
    let report = w.stop();
    report.assert_clean("ZSK roll");
    c.assert_secondary_follows();
    assert!(report.queries > 50, "{} questions", report.queries);
    let states: Vec<String> = seen
        .iter()
        .chain(&seen2)
        .filter_map(|v| {
            v.iter()
                .find(|(t, _)| *t == old_zsk)
                .map(|(_, s)| s.clone())
        })
        .collect();
    assert!(states.contains(&"retiring".to_string()), "{states:?}");
    assert_eq!(served_tags(c.tldd.port()), {
        let mut v = vec![ksk, new_zsk];
        v.sort_unstable();
        v
    });
    // No signature of the old key is left; the new one signs.
    let zone = c.verify_axfr("after the roll");
    let sigs: Vec<&str> = zone.lines().filter(|l| l.contains("\tRRSIG\t")).collect();
    assert!(!sigs.is_empty());
    let by = |tag: u16| {
        sigs.iter()
            .filter(|l| l.split_whitespace().nth(10) == Some(&tag.to_string()))
            .count()
    };
    assert_eq!(by(old_zsk), 0, "old ZSK signatures remain");
    assert!(by(new_zsk) > 0);
    let audit = keys(&c.cfg, &["audit"]);
    for action in ["publish", "activate", "retire", "remove"] {
        assert!(
            audit.contains(&format!("\"action\":\"{action}\"")),
            "no {action} in the audit log:\n{audit}"
        );
    }
    assert!(keys(&c.cfg, &["audit", "--verify"]).starts_with("audit log OK"));
}

#[test]
fn ksk_roll_with_cds_and_the_parent_keeps_every_answer_secure() {
    let mut c = Chain::with_policy(POLICY);
    let before = c.status();
    let old_ksk = of_role(&before, "ksk", "active")[0].tag;
    // No CDS while no roll waits for the parent.
    assert!(crate::support::parent::child_cds(c.tldd.port(), "shop.")
        .trim()
        .is_empty());
    let mut queries = watched();
    queries.push(("shop.".into(), "CDS".into(), Expect::Secure));
    let w = Watcher::start(c.unbound.port, queries);
    w.rounds(2);
    keys(&c.cfg, &["roll", "--zone", "shop.", "--role", "ksk"]);
    c.follow(&w, Duration::from_secs(30), |st| {
        !of_role(st, "ksk", "ready").is_empty()
    });
    let new_ksk = of_role(&c.status(), "ksk", "ready")[0].tag;
    // ds-seen is refused for a key that does not wait for the parent.
    let o = std::process::Command::new(crate::support::dnssec::bin())
        .args([
            "keys",
            "ds-seen",
            "--zone",
            "shop.",
            "--key",
            &old_ksk.to_string(),
            "-c",
        ])
        .arg(&c.cfg)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("ready"));
    // The parent takes the new DS from the CDS, as a registry would.
    let ds = c.parent.follow_cds(c.tldd.port()).expect("CDS while ready");
    assert_eq!(
        parse_ds(&ds).iter().map(|d| d.1).collect::<Vec<_>>(),
        vec![new_ksk],
        "the CDS names the new KSK only: {ds}"
    );
    w.mark("parent: new DS");
    // A restart while the roll waits for the parent.
    c.restart();
    assert!(!of_role(&c.status(), "ksk", "ready").is_empty());
    // Wait out the parent's DS TTL, as an operator checking it would.
    std::thread::sleep(Duration::from_secs(c.parent.ds_ttl().into()));
    // As `tldd keys ds-seen --key TAG`, for the one KSK that waits.
    let out = ctl(&c.cfg, &["zone-ksk-submitted", "shop."]);
    assert!(out.contains(&format!("KSK {new_ksk} DS seen")), "{out}");
    c.follow(&w, Duration::from_secs(60), |st| {
        st.iter().any(|k| k.tag == old_ksk && k.state == "retired")
    });
    w.rounds(3);
    let report = w.stop();
    report.assert_clean("KSK roll");
    c.assert_secondary_follows();
    assert!(
        crate::support::parent::child_cds(c.tldd.port(), "shop.")
            .trim()
            .is_empty(),
        "CDS left after the roll"
    );
    assert!(!served_tags(c.tldd.port()).contains(&old_ksk));
    assert!(served_tags(c.tldd.port()).contains(&new_ksk));
}

#[test]
fn ksk_roll_polls_the_parent_for_the_ds() {
    let mut c =
        Chain::build(|p| format!("{POLICY}ksk_submission = [\"127.0.0.1:{}\"]\n", p.port()));
    let old_ksk = of_role(&c.status(), "ksk", "active")[0].tag;
    let w = Watcher::start(c.unbound.port, watched());
    let out = ctl(&c.cfg, &["zone-key-rollover", "shop.", "ksk"]);
    assert!(out.contains("result: new ksk"), "{out}");
    c.follow(&w, Duration::from_secs(30), |st| {
        !of_role(st, "ksk", "ready").is_empty()
    });
    let new_ksk = of_role(&c.status(), "ksk", "ready")[0].tag;
    // zone-status says what the roll waits for.
    let st = ctl(&c.cfg, &["zone-status", "shop."]);
    assert!(
        st.contains(&format!("key_waiting: ksk {new_ksk} wait-ds")),
        "{st}"
    );
    assert!(st.contains("next_key_event: zsk "), "{st}");
    assert!(st.contains("earliest_signature_expiry: 20"), "{st}");
    // Ready, and the parent does not have the DS: the roll waits.
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !of_role(&c.status(), "ksk", "ready").is_empty(),
        "the roll went on without the parent's DS"
    );
    // The parent takes the CDS; tldd sees the DS there by itself.
    c.parent.follow_cds(c.tldd.port()).expect("CDS while ready");
    w.mark("parent: new DS");
    c.follow(&w, Duration::from_secs(60), |st| {
        st.iter().any(|k| k.tag == old_ksk && k.state == "retired")
    });
    w.rounds(3);
    w.stop().assert_clean("KSK roll with a polled parent");
    let audit = keys(&c.cfg, &["audit"]);
    assert!(
        audit.lines().any(|l| l.contains("\"action\":\"ds-seen\"")
            && l.contains("\"operator\":\"tldd\"")
            && l.contains(&format!("\"key_tag\":{new_ksk}"))),
        "{audit}"
    );
}

/// The algorithms of the RRSIGs of an AXFR's text.
fn sig_algorithms(zone: &str) -> Vec<u8> {
    let mut algs: Vec<u8> = zone
        .lines()
        .filter(|l| l.contains("\tRRSIG\t"))
        .filter_map(|l| l.split_whitespace().nth(5)?.parse().ok())
        .collect();
    algs.sort_unstable();
    algs.dedup();
    algs
}

#[test]
fn algorithm_roll_13_to_15_keeps_every_answer_secure() {
    let mut c = Chain::with_policy(POLICY);
    let before = c.status();
    let old: Vec<u16> = before.iter().map(|k| k.tag).collect();
    assert!(before.iter().all(|k| k.alg == 13));
    let w = Watcher::start(c.unbound.port, watched());
    w.rounds(2);
    let out = keys(
        &c.cfg,
        &[
            "roll",
            "--zone",
            "shop.",
            "--role",
            "ksk",
            "--algorithm",
            "15",
        ],
    );
    assert!(
        out.contains("DNSKEY 257 3 15") && out.contains("DNSKEY 256 3 15"),
        "{out}"
    );
    // Presigned: every RRset gets an algorithm-15 signature before any
    // algorithm-15 DNSKEY is served. A restart in the middle of it.
    let seen = c.follow(&w, Duration::from_secs(30), |st| {
        st.iter().any(|k| k.state == "presigned")
    });
    w.mark("restart while presigned");
    c.restart();
    let seen2 = c.follow(&w, Duration::from_secs(60), |st| {
        st.iter()
            .any(|k| k.alg == 15 && k.role == "ksk" && k.state == "ready")
    });
    assert!(
        seen.iter().any(|v| v.iter().any(|(_, s)| s == "presigned")),
        "{seen:?} {seen2:?}"
    );
    let new_ksk = of_role(&c.status(), "ksk", "ready")[0].tag;
    let ds = c.parent.follow_cds(c.tldd.port()).expect("CDS while ready");
    assert_eq!(
        parse_ds(&ds).iter().map(|d| (d.1, d.2)).collect::<Vec<_>>(),
        vec![(new_ksk, 15)],
        "{ds}"
    );
    w.mark("parent: algorithm-15 DS only");
    std::thread::sleep(Duration::from_secs(c.parent.ds_ttl().into()));
    keys(
        &c.cfg,
        &["ds-seen", "--zone", "shop.", "--key", &new_ksk.to_string()],
    );
    c.follow(&w, Duration::from_secs(60), |st| {
        st.iter()
            .filter(|k| old.contains(&k.tag))
            .all(|k| k.state == "retired")
    });
    // The refresh removes the old algorithm's signatures.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let zone = c.verify_axfr("after the algorithm roll");
        if sig_algorithms(&zone) == vec![15] {
            break;
        }
        assert!(Instant::now() < deadline, "algorithm 13 signatures remain");
        std::thread::sleep(Duration::from_millis(500));
    }
    w.rounds(3);
    w.stop().assert_clean("algorithm roll");
    c.assert_secondary_follows();
    let mut tags = served_tags(c.tldd.port());
    tags.retain(|t| old.contains(t));
    assert!(tags.is_empty(), "old DNSKEYs still served: {tags:?}");
    // A restart after the roll serves the same keys.
    c.restart();
    let mut after = served_tags(c.tldd.port());
    after.retain(|t| old.contains(t));
    assert!(after.is_empty());
}
