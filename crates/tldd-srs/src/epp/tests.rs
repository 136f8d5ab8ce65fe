//! Policy rules through the whole command path (XML in, XML out, real
//! store), without the network: the overlapping grace period rules of the
//! .shop application and the limits on transfers and renewals.
use super::*;
use crate::clock::DAY;
use crate::config::{FeesConfig, PolicyConfig};
use crate::epp::xml::{NS_CONTACT, NS_DOMAIN, NS_EPP, NS_HOST, NS_RGP};
use crate::model::LedgerKind;

struct World {
    _dir: tempfile::TempDir,
    epp: Epp,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), "shop", "SHOP").unwrap());
    for id in ["reg-a", "reg-b", "reg-c"] {
        let spec = crate::registrar::RegistrarSpec {
            id: id.into(),
            name: Some(id.into()),
            iana_id: Some(1),
            password: Some("secret-1".into()),
            cert_sha256: vec!["ab".repeat(32)],
            ..Default::default()
        };
        crate::registrar::add(&store, &spec).unwrap();
    }
    let policy = Policy {
        p: PolicyConfig::default(),
        fees: FeesConfig {
            currency: "USD".into(),
            create: 100,
            renew: 10,
            transfer: 7,
            restore: 50,
        },
    };
    let settings = EppSettings {
        sv_id: "test".into(),
        max_login_failures: 3,
        registrar_connections: 4,
        idle_timeout: std::time::Duration::from_secs(60),
        max_frame: 65536,
        max_connections: 10,
        guard: Default::default(),
    };
    let epp = Epp::new(
        store,
        policy,
        settings,
        Arc::new(crate::metrics::Metrics::new()),
    );
    let w = World { _dir: dir, epp };
    // The registrant every `create` names (a thick registry needs one).
    let contact = super::golden::contact_create("ca-a", super::golden::POSTAL, "");
    assert_eq!(w.code("reg-a", &contact), 1000);
    w
}

impl World {
    fn run(&self, clid: &str, inner: &str) -> (u16, String) {
        let mut s = Session {
            peer: "127.0.0.1".parse().unwrap(),
            cert_sha256: None,
            clid: Some(clid.into()),
            failures: 0,
        };
        let frame = format!(
            "<epp xmlns=\"{NS_EPP}\" xmlns:domain=\"{NS_DOMAIN}\" xmlns:contact=\"{NS_CONTACT}\" xmlns:host=\"{NS_HOST}\" xmlns:rgp=\"{NS_RGP}\"><command>{inner}</command></epp>"
        );
        let a = self.epp.handle_frame(&mut s, frame.as_bytes());
        (a.code, a.xml)
    }
    fn code(&self, clid: &str, inner: &str) -> u16 {
        self.run(clid, inner).0
    }
    fn advance(&self, days: i64) {
        let s = &self.epp.store;
        s.advance_clock(s.clock.now() + days * DAY).unwrap();
        crate::lifecycle::run_due(s, &self.epp.policy, s.clock.now()).unwrap();
    }
    fn ledger(&self, r: &str) -> Vec<(LedgerKind, i64)> {
        self.epp
            .store
            .ledger(Some(r))
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.amount))
            .collect()
    }
    fn ex_date(&self, name: &str) -> String {
        crate::clock::fmt_date(self.epp.store.get_domain(name).unwrap().unwrap().ex_date)
    }
}

fn create(name: &str) -> String {
    format!("<create><domain:create><domain:name>{name}</domain:name><domain:registrant>ca-a</domain:registrant><domain:authInfo><domain:pw>dom-Pass1</domain:pw></domain:authInfo></domain:create></create>")
}
fn renew(name: &str, cur: &str, years: u32) -> String {
    format!("<renew><domain:renew><domain:name>{name}</domain:name><domain:curExpDate>{cur}</domain:curExpDate><domain:period unit=\"y\">{years}</domain:period></domain:renew></renew>")
}
fn delete(name: &str) -> String {
    format!("<delete><domain:delete><domain:name>{name}</domain:name></domain:delete></delete>")
}
fn transfer(op: &str, name: &str) -> String {
    format!("<transfer op=\"{op}\"><domain:transfer><domain:name>{name}</domain:name><domain:authInfo><domain:pw>dom-Pass1</domain:pw></domain:authInfo></domain:transfer></transfer>")
}

#[test]
fn delete_in_add_and_renew_grace_credits_both_and_purges() {
    let w = world();
    assert_eq!(w.code("reg-a", &create("a.shop")), 1000);
    let ex = w.ex_date("a.shop");
    assert_eq!(w.code("reg-a", &renew("a.shop", &ex, 2)), 1000);
    assert_eq!(w.code("reg-a", &delete("a.shop")), 1000);
    assert!(w.epp.store.get_domain("a.shop").unwrap().is_none());
    assert_eq!(
        w.ledger("reg-a"),
        vec![
            (LedgerKind::Create, 100),
            (LedgerKind::Renew, 20),
            (LedgerKind::CreditCreate, -100),
            (LedgerKind::CreditRenew, -20),
        ]
    );
    assert_eq!(
        w.epp.store.get_registrar("reg-a").unwrap().unwrap().balance,
        0
    );
}

#[test]
fn transfer_then_renew_then_delete_credits_only_the_renewal() {
    let w = world();
    assert_eq!(w.code("reg-a", &create("t.shop")), 1000);
    w.advance(61);
    assert_eq!(w.code("reg-b", &transfer("request", "t.shop")), 1001);
    assert_eq!(w.code("reg-a", &transfer("approve", "t.shop")), 1000);
    // the authInfo changed with the transfer; with the new one: 60-day lock
    assert_eq!(w.code("reg-c", &transfer("request", "t.shop")), 2202);
    let pw = w.epp.store.get_domain("t.shop").unwrap().unwrap().auth_pw;
    assert_eq!(
        w.code(
            "reg-c",
            &transfer("request", "t.shop").replace("dom-Pass1", &pw)
        ),
        2106
    );
    let ex = w.ex_date("t.shop");
    assert_eq!(w.code("reg-b", &renew("t.shop", &ex, 1)), 1000);
    assert_eq!(w.code("reg-b", &delete("t.shop")), 1001);
    assert_eq!(
        w.ledger("reg-b"),
        vec![
            (LedgerKind::Transfer, 7),
            (LedgerKind::Renew, 10),
            (LedgerKind::CreditRenew, -10),
        ]
    );
    let d = w.epp.store.get_domain("t.shop").unwrap().unwrap();
    assert!(matches!(d.rgp, crate::model::Rgp::Redemption { .. }));
    // restore brings it back and is charged
    let restore = "<update><domain:update><domain:name>t.shop</domain:name><domain:chg/></domain:update></update><extension><rgp:update><rgp:restore op=\"request\"/></rgp:update></extension>";
    assert_eq!(w.code("reg-a", restore), 2201, "only the sponsor restores");
    assert_eq!(w.code("reg-b", restore), 1000);
    assert_eq!(w.ledger("reg-b").last(), Some(&(LedgerKind::Restore, 50)));
}

#[test]
fn renewals_stop_at_ten_years_and_periods_are_checked() {
    let w = world();
    assert_eq!(w.code("reg-a", &create("r.shop")), 1000);
    let ex = w.ex_date("r.shop");
    assert_eq!(w.code("reg-a", &renew("r.shop", &ex, 10)), 2306);
    assert_eq!(w.code("reg-a", &renew("r.shop", &ex, 9)), 1000);
    assert_eq!(w.code("reg-a", &renew("r.shop", "2001-01-01", 1)), 2306);
    let (code, xml) = w.run(
        "reg-a",
        &create("y.shop").replace(
            "</domain:name>",
            "</domain:name><domain:period unit=\"y\">11</domain:period>",
        ),
    );
    assert_eq!(code, 2004, "{xml}");
    assert_eq!(
        w.code("reg-a", &create("z.shop").replace("dom-Pass1", "x")),
        2306,
        "weak authInfo"
    );
}

#[test]
fn pending_transfer_rules() {
    let w = world();
    assert_eq!(w.code("reg-a", &create("p.shop")), 1000);
    w.advance(61);
    assert_eq!(
        w.code("reg-a", &transfer("request", "p.shop")),
        2106,
        "own domain"
    );
    assert_eq!(w.code("reg-b", &transfer("request", "p.shop")), 1001);
    assert_eq!(w.code("reg-c", &transfer("request", "p.shop")), 2300);
    assert_eq!(w.code("reg-a", &delete("p.shop")), 2304);
    assert_eq!(w.code("reg-c", &transfer("cancel", "p.shop")), 2201);
    assert_eq!(w.code("reg-b", &transfer("cancel", "p.shop")), 1000);
    assert_eq!(w.code("reg-b", &transfer("query", "p.shop")), 1000);
    assert_eq!(w.code("reg-b", &transfer("approve", "p.shop")), 2301);
    assert_eq!(w.code("reg-b", &transfer("request", "p.shop")), 1001);
    assert_eq!(w.code("reg-a", &transfer("reject", "p.shop")), 1000);
    assert_eq!(
        w.epp.store.get_domain("p.shop").unwrap().unwrap().cl_id,
        "reg-a"
    );
    // registry approval after five days
    assert_eq!(w.code("reg-b", &transfer("request", "p.shop")), 1001);
    w.advance(4);
    assert_eq!(
        w.epp.store.get_domain("p.shop").unwrap().unwrap().cl_id,
        "reg-a"
    );
    w.advance(2);
    assert_eq!(
        w.epp.store.get_domain("p.shop").unwrap().unwrap().cl_id,
        "reg-b"
    );
}

#[test]
fn a_lifecycle_poll_message_is_dated_when_the_event_fell_due() {
    let w = world();
    assert_eq!(w.code("reg-a", &create("late.shop")), 1000);
    let expiry = w.ex_date("late.shop");
    // The runner gets to it 40 days late (the SRS was down, say).
    w.advance(365 + 40);
    let (code, xml) = w.run("reg-a", "<poll op=\"req\"/>");
    assert_eq!(code, 1301, "{xml}");
    assert!(xml.contains("auto-renewed"), "{xml}");
    let q = xml
        .split("<qDate>")
        .nth(1)
        .and_then(|r| r.get(..10))
        .unwrap_or_default();
    assert_eq!(q, expiry, "{xml}");
}

#[test]
fn a_host_renamed_across_the_tld_boundary() {
    // RST epp-23: out of the TLD is accepted (the addresses stay behind);
    // into a domain that does not exist, or is another registrar's, is
    // refused; into one of ours only with an address.
    let w = world();
    assert_eq!(w.code("reg-a", &create("r.shop")), 1000);
    let create_host = |name: &str, addr: &str| {
        format!("<create><host:create><host:name>{name}</host:name>{addr}</host:create></create>")
    };
    let v4 = |a: &str| format!("<host:addr ip=\"v4\">{a}</host:addr>");
    assert_eq!(
        w.code("reg-a", &create_host("ns1.r.shop", &v4("1.2.3.4"))),
        1000
    );
    let rename = |from: &str, to: &str, add: &str| {
        format!(
            "<update><host:update><host:name>{from}</host:name>{add}<host:chg><host:name>{to}</host:name></host:chg></host:update></update>"
        )
    };
    assert_eq!(
        w.code("reg-a", &rename("ns1.r.shop", "ns1.nowhere.shop", "")),
        2303
    );
    assert_eq!(
        w.code("reg-a", &rename("ns1.r.shop", "ns1.example.net", "")),
        1000
    );
    let (code, info) = w.run(
        "reg-a",
        "<info><host:info><host:name>ns1.example.net</host:name></host:info></info>",
    );
    assert_eq!(code, 1000, "{info}");
    assert!(!info.contains("<host:addr"), "{info}");
    let add = format!("<host:add>{}</host:add>", v4("1.2.3.5"));
    assert_eq!(
        w.code("reg-a", &rename("ns1.example.net", "ns2.r.shop", "")),
        2306
    );
    assert_eq!(
        w.code("reg-a", &rename("ns1.example.net", "ns2.r.shop", &add)),
        1000
    );
    // Another registrar's host cannot move under r.shop.
    assert_eq!(w.code("reg-b", &create_host("ns1.example.org", "")), 1000);
    assert_eq!(
        w.code("reg-b", &rename("ns1.example.org", "ns3.r.shop", &add)),
        2201
    );
}
