//! A tldd secondary following a tldd primary: first load by AXFR, then
//! NOTIFY + IXFR through a stream of updates; with the primary stopped it
//! keeps answering; restarted alone it serves its stored copy; NOTIFY from
//! strangers is refused; updates sent to it are refused. Past SOA expire
//! without its primary it answers SERVFAIL (not REFUSED) and serves no
//! transfer, and it comes back once the primary does.
use crate::support::serve as common;
use crate::support::update as update_kit;
use common::*;
use update_kit::*;

fn secondary(primary: std::net::SocketAddr, port: u16, data: &std::path::Path) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tldd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\ndata_dir = \"{}\"\nudp_workers = 1\nmetrics = \"127.0.0.1:0\"\n{}[[zone]]\norigin = \"shop.\"\nprimary = \"{primary}\"\ntransfer_key = \"xfr-key\"\nupdate_key = \"srs-key\"\n",
            data.display(),
            keys_toml()
        ),
    )
    .unwrap();
    Server::start_with_config(&cfg, dir)
}

#[test]
fn tldd_secondary_follows_and_survives_the_primary() {
    let sport = free_port();
    let p = primary("srs-key", &format!("notify = [\"127.0.0.1:{sport}\"]"), "");
    let data = tempfile::tempdir().unwrap();
    let s = secondary(p.addr, sport, data.path());
    let first = serial_at(p.addr).unwrap();
    assert!(
        wait_for(30, || serial_at(s.addr) == Some(first)),
        "{:?}",
        s.log.lock().unwrap()
    );
    let key = Some(("hmac-sha256", "srs-key", SECRET));
    for i in 0..20 {
        let (ok, out) = nsupdate(
            &p,
            key,
            &format!(
                "update add sec{i}.shop. 3600 NS ns1.sec{i}.shop.\nupdate add ns1.sec{i}.shop. 3600 A 198.51.100.{i}"
            ),
        );
        assert!(ok, "{out}");
        if i % 5 == 4 {
            let (ok, out) = nsupdate(
                &p,
                key,
                &format!(
                    "update delete sec{}.shop.\nupdate delete ns1.sec{}.shop.",
                    i - 2,
                    i - 2
                ),
            );
            assert!(ok, "{out}");
        }
    }
    let last = serial_at(p.addr).unwrap();
    assert!(
        wait_for(30, || serial_at(s.addr) == Some(last)),
        "secondary at {:?}, primary {last}",
        serial_at(s.addr)
    );
    assert_eq!(axfr(s.addr), axfr(p.addr));
    let log = s.log.lock().unwrap().join("\n");
    assert!(
        log.contains("kind=\"ixfr\"") || log.contains("kind=ixfr"),
        "{log}"
    );

    // Updates go to the primary, not here.
    let (ok, out) = nsupdate(&s, key, "update add nope.shop. 3600 NS ns.example.");
    assert!(!ok && out.contains("REFUSED"), "{out}");

    // Primary gone: the secondary keeps answering.
    assert!(p.stop());
    std::thread::sleep(std::time::Duration::from_secs(1));
    let r = s.kdig(&["www.sec19.shop.", "A", "+norec"]);
    assert!(r.contains("198.51.100.19"), "{r}");
    assert_eq!(serial_at(s.addr), Some(last));

    // Restarted with the primary still down: serves the stored copy.
    assert!(s.stop());
    let s = secondary("127.0.0.1:9".parse().unwrap(), free_port(), data.path());
    assert_eq!(serial_at(s.addr), Some(last));
    assert!(s
        .kdig(&["www.sec19.shop.", "A", "+norec"])
        .contains("198.51.100.19"));
}

/// A primary on a fixed port serving a small zone whose SOA expire is
/// `expire` seconds (refresh/retry at the 5 s floor).
fn small_primary(port: u16, expire: u32, dir: &std::path::Path) -> Server {
    let zone = dir.join("small.zone");
    std::fs::write(
        &zone,
        format!(
            "$ORIGIN shop.\n$TTL 300\n@ SOA a.nic.shop. hostmaster.nic.shop. 7 5 5 {expire} 300\n\
             @ NS a.nic.shop.\na.nic A 192.0.2.53\nexp NS ns1.exp.shop.\nns1.exp A 198.51.100.7\n"
        ),
    )
    .unwrap();
    let cfg = dir.join("primary.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\ndata_dir = \"{}\"\nudp_workers = 1\n{}[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\ntransfer_key = \"xfr-key\"\n",
            dir.join("pdata").display(),
            keys_toml(),
            zone.display()
        ),
    )
    .unwrap();
    Server::start_with_config(&cfg, tempfile::tempdir().unwrap())
}

fn status(s: &Server, args: &[&str]) -> String {
    let out = s.kdig(args);
    out.split("status: ")
        .nth(1)
        .and_then(|r| r.split([',', ';']).next())
        .unwrap_or("no answer")
        .to_string()
}

/// SOA expire of [`small_primary`]'s zone in the expiry test: long enough
/// that a restart which forgot the expire clock would still answer
/// NOERROR when the test looks.
const EXPIRE: u32 = 15;

#[test]
fn expired_secondary_answers_servfail_until_the_primary_returns() {
    let pdir = tempfile::tempdir().unwrap();
    let pport = free_port();
    let p = small_primary(pport, EXPIRE, pdir.path());
    let data = tempfile::tempdir().unwrap();
    let s = secondary(p.addr, free_port(), data.path());
    let paddr = p.addr;
    assert!(
        wait_for(30, || serial_at(s.addr) == Some(7)),
        "{:?}",
        s.log.lock().unwrap()
    );
    assert_eq!(status(&s, &["exp.shop.", "A", "+norec"]), "NOERROR");
    // EDNS EXPIRE (RFC 7314): the primary answers its SOA expire, the
    // secondary the time it has left, which runs down without the primary.
    assert_eq!(edns_expire(&p), Some(EXPIRE));
    let left = edns_expire(&s).expect("secondary answers EXPIRE");
    assert!((1..=EXPIRE).contains(&left), "{left}");

    // Primary gone: once SOA expire has passed without a refresh,
    // queries get SERVFAIL and transfers stop.
    assert!(p.stop());
    let expired = wait_for(60, || {
        status(&s, &["exp.shop.", "A", "+norec"]) == "SERVFAIL"
            && status(&s, &["shop.", "SOA", "+norec"]) == "SERVFAIL"
    });
    assert!(expired, "{:?}", s.log.lock().unwrap());
    assert!(
        edns_expire(&s).is_none(),
        "an expired zone answers SERVFAIL"
    );
    // ... saying why (RFC 8914 EDE 22).
    let out = s.kdig(&["+edns", "+norec", "exp.shop.", "A"]);
    assert!(out.contains("EDE: 22"), "{out}");
    assert_eq!(status(&s, &["nope.example.", "A", "+norec"]), "REFUSED");
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let x = kdig_at(s.addr, &["shop.", "AXFR", "-y", &key]);
    assert!(x.contains("SERVFAIL") && !x.contains("198.51.100.7"), "{x}");
    let m = metrics_text(&s);
    assert!(
        m.contains("tldd_secondary_expired{zone=\"shop.\"} 1"),
        "{m}"
    );

    // Restarted with the primary still gone, it does not start a fresh
    // expire period on its stored copy: it expires as soon as the first
    // refresh fails, well before another EXPIRE seconds.
    assert!(s.stop());
    let s = secondary(paddr, free_port(), data.path());
    assert!(
        wait_for(EXPIRE as u64 / 3, || status(
            &s,
            &["exp.shop.", "A", "+norec"]
        ) == "SERVFAIL"),
        "{:?}",
        s.log.lock().unwrap()
    );

    // The primary returns: the secondary transfers again and answers.
    let p = small_primary(pport, EXPIRE, pdir.path());
    assert!(
        wait_for(60, || status(&s, &["exp.shop.", "A", "+norec"])
            == "NOERROR"),
        "{:?}",
        s.log.lock().unwrap()
    );
    assert_eq!(serial_at(s.addr), serial_at(p.addr));
    assert!(metrics_text(&s).contains("tldd_secondary_expired{zone=\"shop.\"} 0"));
}

/// The EDNS EXPIRE value in the answer to `shop. SOA +expire`.
fn edns_expire(s: &Server) -> Option<u32> {
    let out = s.kdig(&["shop.", "SOA", "+norec", "+expire"]);
    out.lines()
        .find_map(|l| l.strip_prefix(";; EXPIRE: "))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn metrics_text(s: &Server) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(s.metrics.expect("metrics address")).unwrap();
    c.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn notify_from_a_stranger_is_refused() {
    let p = primary("srs-key", "", "");
    let data = tempfile::tempdir().unwrap();
    // The secondary believes its primary is at 127.0.0.2: our NOTIFY from
    // 127.0.0.1 must be refused.
    let s = secondary("127.0.0.2:53".parse().unwrap(), free_port(), data.path());
    let (ok, out) = python(
        "import dns.message,dns.query,dns.opcode,sys\n\
         m=dns.message.make_query('shop.','SOA')\nm.set_opcode(dns.opcode.NOTIFY)\n\
         r=dns.query.udp(m,'127.0.0.1',port=int(sys.argv[1]),timeout=3)\nprint(dns.rcode.to_text(r.rcode()))",
        &[&s.port().to_string()],
    );
    assert!(ok && out.contains("REFUSED"), "{out}");
    // And a primary zone does not take NOTIFY at all.
    let (ok, out) = python(
        "import dns.message,dns.query,dns.opcode,sys\n\
         m=dns.message.make_query('shop.','SOA')\nm.set_opcode(dns.opcode.NOTIFY)\n\
         r=dns.query.udp(m,'127.0.0.1',port=int(sys.argv[1]),timeout=3)\nprint(dns.rcode.to_text(r.rcode()))",
        &[&p.port().to_string()],
    );
    assert!(ok && out.contains("REFUSED"), "{out}");
}

/// A primary on `port` serving `zone` (text), updatable with srs-key.
fn primary_on(port: u16, zone: &str, dir: &std::path::Path) -> Server {
    let file = dir.join("zone.txt");
    std::fs::write(&file, zone).unwrap();
    let cfg = dir.join("primary.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\ndata_dir = \"{}\"\nudp_workers = 1\n{}[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\ntransfer_key = \"xfr-key\"\nupdate_key = \"srs-key\"\n",
            dir.join("pdata").display(),
            keys_toml(),
            file.display()
        ),
    )
    .unwrap();
    Server::start_with_config(&cfg, tempfile::tempdir().unwrap())
}

#[test]
fn an_ixfr_that_does_not_apply_cleanly_falls_back_to_axfr() {
    let head = "$ORIGIN shop.\n$TTL 300\n@ SOA a.nic.shop. hostmaster.nic.shop. 7 5 5 600 300\n\
                @ NS a.nic.shop.\na.nic A 192.0.2.53\n";
    let pport = free_port();
    // The first primary has y.shop.; its replacement, at the same serial,
    // has x.shop. instead: the secondary's copy and the new primary's differ.
    let d1 = tempfile::tempdir().unwrap();
    let p1 = primary_on(pport, &format!("{head}y NS ns.example.\n"), d1.path());
    let data = tempfile::tempdir().unwrap();
    let s = secondary(p1.addr, free_port(), data.path());
    assert!(wait_for(30, || serial_at(s.addr) == Some(7)));
    assert!(s.kdig(&["y.shop.", "NS", "+norec"]).contains("ns.example."));
    assert!(p1.stop());
    let d2 = tempfile::tempdir().unwrap();
    let p2 = primary_on(pport, &format!("{head}x NS ns.example.\n"), d2.path());
    // Serial 8 deletes x.shop.: an IXFR from 7 removes a delegation the
    // secondary never had.
    let (ok, out) = nsupdate(
        &p2,
        Some(("hmac-sha256", "srs-key", SECRET)),
        "update delete x.shop. NS",
    );
    assert!(ok, "{out}");
    assert_eq!(serial_at(p2.addr), Some(8));
    assert!(
        wait_for(60, || serial_at(s.addr) == Some(8)),
        "{:?}",
        s.log.lock().unwrap()
    );
    // A full transfer: the secondary now holds exactly the primary's zone.
    assert_eq!(normalize_axfr(s.addr), normalize_axfr(p2.addr));
    assert!(!s.kdig(&["y.shop.", "NS", "+norec"]).contains("ns.example."));
    let log = s.log.lock().unwrap().join("\n");
    assert!(log.contains("falling back to AXFR"), "{log}");
}

fn normalize_axfr(addr: std::net::SocketAddr) -> Vec<String> {
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let mut v: Vec<String> = kdig_at(
        addr,
        &["shop.", "AXFR", "-y", &key, "+nocomments", "+nostats"],
    )
    .lines()
    .filter(|l| !l.contains("TSIG") && !l.starts_with(';') && !l.trim().is_empty())
    .map(|l| {
        l.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    })
    .collect();
    v.sort();
    v.dedup();
    v
}

/// `tldd ctl zone-retransfer`: a secondary that is current transfers the
/// whole zone again (one more AXFR, same serial); zone-status says it is a
/// secondary of that primary; a primary has nothing to retransfer.
#[test]
fn ctl_retransfer_forces_an_axfr() {
    let p = primary("srs-key", "", "");
    let data = tempfile::tempdir().unwrap();
    let s = secondary(p.addr, free_port(), data.path());
    let serial = serial_at(p.addr).unwrap();
    assert!(wait_for(30, || serial_at(s.addr) == Some(serial)));
    let axfrs = || {
        metrics_text(&s)
            .lines()
            .find(|l| {
                l.starts_with("tldd_secondary_transfers_total")
                    && l.contains("kind=\"axfr\"")
                    && l.contains("result=\"ok\"")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = axfrs();
    assert!(before >= 1);
    let cfg = s.dir.path().join("tldd.toml");
    let (code, out, err) = crate::ctl::ctl(&cfg, &["zone-status", "shop."]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("role: secondary") && out.contains(&format!("primary: {}", p.addr)),
        "{out}"
    );
    let (code, _, err) = crate::ctl::ctl(&cfg, &["zone-retransfer", "shop."]);
    assert_eq!(code, 0, "{err}");
    assert!(
        wait_for(30, || axfrs() > before),
        "no AXFR after zone-retransfer"
    );
    assert_eq!(serial_at(s.addr), Some(serial));
    let pcfg = p.dir.path().join("tldd.toml");
    let (code, _, err) = crate::ctl::ctl(&pcfg, &["zone-retransfer", "shop."]);
    assert_eq!(code, 1);
    assert!(err.contains("not a secondary"), "{err}");
}

#[test]
fn a_primary_whose_serial_went_back_is_reported_and_retransfer_recovers() {
    let zone = |serial: u32, extra: &str| {
        format!(
            "$ORIGIN shop.\n$TTL 300\n@ SOA a.nic.shop. hostmaster.nic.shop. {serial} 2 1 600 300\n\
             @ NS a.nic.shop.\na.nic A 192.0.2.53\n{extra}"
        )
    };
    let pdir = tempfile::tempdir().unwrap();
    let pport = free_port();
    let p = primary_on(pport, &zone(100, "newer NS ns.example.net.\n"), pdir.path());
    let data = tempfile::tempdir().unwrap();
    let s = secondary(p.addr, free_port(), data.path());
    assert!(wait_for(30, || serial_at(s.addr) == Some(100)));
    let cfg = s.dir.path().join("tldd.toml");
    let (_, out, _) = crate::ctl::ctl(&cfg, &["zone-status", "shop."]);
    assert!(!out.contains("primary_behind"), "{out}");

    // The primary loses its store and loads an older file.
    assert!(p.stop());
    std::fs::remove_dir_all(pdir.path().join("pdata")).unwrap();
    let _p = primary_on(pport, &zone(50, ""), pdir.path());
    let (code, _, err) = crate::ctl::ctl(&cfg, &["zone-refresh", "shop."]);
    assert_eq!(code, 0, "{err}");
    assert!(
        wait_for(20, || crate::ctl::ctl(&cfg, &["zone-status", "shop."])
            .1
            .contains("primary_behind: 50")),
        "zone-status does not say the primary went back"
    );
    assert_eq!(serial_at(s.addr), Some(100), "ours is still served");
    let port = s.metrics.unwrap().port();
    let (code, _, body) = crate::support::whois::http(port, "GET", "/health");
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("unfit shop.") && body.contains("behind"),
        "{body}"
    );
    assert!(metrics_text(&s).contains("tldd_secondary_primary_behind{zone=\"shop.\"} 1"));
    assert!(s
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("behind ours")));

    // zone-retransfer takes the primary's copy, older serial and all.
    let (code, _, err) = crate::ctl::ctl(&cfg, &["zone-retransfer", "shop."]);
    assert_eq!(code, 0, "{err}");
    assert!(wait_for(20, || serial_at(s.addr) == Some(50)));
    assert!(kdig_at(s.addr, &["newer.shop.", "NS"]).contains("NXDOMAIN"));
    let (code, _, body) = crate::support::whois::http(port, "GET", "/health");
    assert_eq!(code, 200, "{body}");
    assert!(metrics_text(&s).contains("tldd_secondary_primary_behind{zone=\"shop.\"} 0"));
}
