//! Table-driven decoder tests: good frames decode to the expected
//! [`Command`], bad ones to the expected code and reason, and the decoder
//! never needs a store.
use super::*;
use crate::model::{ContactType, DsData};

fn frame(inner: &str) -> Vec<u8> {
    format!(
        "<epp xmlns=\"{NS_EPP}\" xmlns:domain=\"{NS_DOMAIN}\" xmlns:host=\"{NS_HOST}\" \
xmlns:contact=\"{NS_CONTACT}\" xmlns:secDNS=\"{NS_SECDNS}\" xmlns:rgp=\"{NS_RGP}\">\
<command>{inner}<clTRID>T-100</clTRID></command></epp>"
    )
    .into_bytes()
}

/// The verb of a framed command (panics on anything else).
fn verb(inner: &str) -> Verb {
    match decode(&frame(inner)) {
        Ok(Frame::Command(Envelope {
            cl_trid,
            request: Request::Command(v),
        })) => {
            assert_eq!(cl_trid.as_deref(), Some("T-100"));
            *v
        }
        other => panic!("{inner}: {other:?}"),
    }
}

fn ds13() -> DsData {
    DsData {
        key_tag: 1,
        alg: 13,
        digest_type: 2,
        digest: "AB".repeat(32),
    }
}

const DS13: &str = "<secDNS:dsData><secDNS:keyTag>1</secDNS:keyTag><secDNS:alg>13</secDNS:alg>\
<secDNS:digestType>2</secDNS:digestType><secDNS:digest>abababababababababababababababababababababababababababababababab</secDNS:digest></secDNS:dsData>";

#[test]
fn good_frames_decode_to_commands() {
    let create = format!(
        "<create><domain:create><domain:name>Ex.Shop.</domain:name><domain:period unit=\"m\">24</domain:period>\
<domain:ns><domain:hostObj>NS1.example.net</domain:hostObj></domain:ns><domain:registrant>c-1</domain:registrant>\
<domain:contact type=\"tech\">c-2</domain:contact><domain:authInfo><domain:pw>dom-Pass1</domain:pw></domain:authInfo>\
</domain:create></create><extension><secDNS:create>{DS13}</secDNS:create></extension>"
    );
    let update = format!(
        "<update><domain:update><domain:name>ex.shop</domain:name><domain:add><domain:status s=\"clientHold\"/></domain:add>\
<domain:rem><domain:ns><domain:hostObj>ns1.example.net</domain:hostObj></domain:ns></domain:rem>\
<domain:chg><domain:authInfo><domain:pw>new-Pass1</domain:pw></domain:authInfo></domain:chg></domain:update></update>\
<extension><secDNS:update><secDNS:rem><secDNS:all>true</secDNS:all></secDNS:rem><secDNS:add>{DS13}</secDNS:add></secDNS:update></extension>"
    );
    let table: Vec<(String, &str, Command)> = vec![
        ("<poll op=\"req\"/>".into(), "poll", Command::PollReq),
        (
            "<poll op=\"ack\" msgID=\"42\"/>".into(),
            "poll",
            Command::PollAck { id: 42 },
        ),
        (
            "<check><domain:check><domain:name>A.shop</domain:name><domain:name>b.shop</domain:name></domain:check></check>".into(),
            "domain:check",
            Command::DomainCheck {
                names: vec!["A.shop".into(), "b.shop".into()],
            },
        ),
        (
            "<info><domain:info><domain:name hosts=\"sub\">EX.shop</domain:name><domain:authInfo><domain:pw>p</domain:pw></domain:authInfo></domain:info></info>".into(),
            "domain:info",
            Command::DomainInfo(DomainInfo {
                name: "ex.shop".into(),
                hosts: HostsFilter::Sub,
                auth_pw: Some("p".into()),
            }),
        ),
        (
            create,
            "domain:create",
            Command::DomainCreate(DomainCreate {
                name: "ex.shop".into(),
                years: Ok(Some(2)),
                ns: Ok(vec!["ns1.example.net".into()]),
                registrant: Some("c-1".into()),
                contacts: Ok(vec![(ContactType::Tech, "c-2".into())]),
                auth_pw: Ok("dom-Pass1".into()),
                ds: Ok(vec![ds13()]),
            }),
        ),
        (
            update,
            "domain:update",
            Command::DomainUpdate(DomainUpdate {
                name: "ex.shop".into(),
                add: DomainDelta {
                    statuses: vec!["clientHold".into()],
                    ..Default::default()
                },
                rem: DomainDelta {
                    ns: vec!["ns1.example.net".into()],
                    ..Default::default()
                },
                registrant: None,
                auth_pw: Some("new-Pass1".into()),
                secdns: SecDnsUpdate {
                    rem_all: true,
                    rem: vec![],
                    add: vec![ds13()],
                },
            }),
        ),
        (
            "<update><domain:update><domain:name>ex.shop</domain:name><domain:add><domain:status/></domain:add></domain:update></update>\
<extension><rgp:update><rgp:restore op=\"request\"/></rgp:update></extension>".into(),
            "domain:update",
            Command::DomainRestore(DomainRestore {
                name: "ex.shop".into(),
                op: Ok(RestoreOp::Request),
            }),
        ),
        (
            "<renew><domain:renew><domain:name>ex.shop</domain:name><domain:curExpDate>2030-02-28</domain:curExpDate></domain:renew></renew>".into(),
            "domain:renew",
            Command::DomainRenew(DomainRenew {
                name: "ex.shop".into(),
                cur_exp: "2030-02-28".into(),
                cur_date: crate::clock::parse_date("2030-02-28").unwrap(),
                years: 1,
            }),
        ),
        (
            "<transfer op=\"request\"><domain:transfer><domain:name>ex.shop</domain:name><domain:period unit=\"y\">2</domain:period></domain:transfer></transfer>".into(),
            "domain:transfer",
            Command::DomainTransfer(DomainTransfer {
                name: "ex.shop".into(),
                auth_pw: None,
                op: TransferOp::Request { years: 2 },
            }),
        ),
        (
            "<delete><domain:delete><domain:name>ex.shop</domain:name></domain:delete></delete>".into(),
            "domain:delete",
            Command::DomainDelete {
                name: "ex.shop".into(),
            },
        ),
        (
            "<create><host:create><host:name>NS1.ex.shop</host:name><host:addr>192.0.2.1</host:addr><host:addr ip=\"v6\">2001:db8::1</host:addr></host:create></create>".into(),
            "host:create",
            Command::HostCreate(HostCreate {
                name: "ns1.ex.shop".into(),
                addrs: vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
            }),
        ),
        (
            "<update><host:update><host:name>ns1.ex.net</host:name><host:rem><host:status s=\"clientUpdateProhibited\"/></host:rem><host:chg><host:name>ns2.ex.net</host:name></host:chg></host:update></update>".into(),
            "host:update",
            Command::HostUpdate(HostUpdate {
                name: "ns1.ex.net".into(),
                add_addrs: vec![],
                rem_addrs: vec![],
                add_statuses: vec![],
                rem_statuses: vec!["clientUpdateProhibited".into()],
                new_name: Some("ns2.ex.net".into()),
            }),
        ),
        (
            "<info><contact:info><contact:id>c-1</contact:id></contact:info></info>".into(),
            "contact:info",
            Command::ContactInfo(ContactInfo {
                id: "c-1".into(),
                auth_pw: None,
            }),
        ),
        (
            "<delete><contact:delete><contact:id>c-1</contact:id></contact:delete></delete>".into(),
            "contact:delete",
            Command::ContactDelete { id: "c-1".into() },
        ),
    ];
    for (inner, label, want) in table {
        let v = verb(&inner);
        assert_eq!(v.label, label, "{inner}");
        assert_eq!(v.command, Ok(want), "{inner}");
    }
}

#[test]
fn bad_commands_get_the_old_codes() {
    let table: &[(&str, u16, &str)] = &[
        ("<frob/>", 2000, "unknown command <frob>"),
        ("<frob/><extension><x:y xmlns:x=\"urn:x\"/></extension>", 2103, "extension urn:x is not supported"),
        ("<check/>", 2001, "<check> holds no object"),
        ("<check><domain:info/></check>", 2001, "<check> must hold <obj:check>, not <info>"),
        ("<check><x:check xmlns:x=\"urn:x\"/></check>", 2307, "object service \"urn:x\" is not offered"),
        ("<renew><host:renew/></renew>", 2101, "renew is not offered for this object"),
        ("<transfer><domain:transfer/></transfer>", 2003, "transfer needs an op attribute"),
        ("<transfer op=\"x\"><domain:transfer><domain:name>a.shop</domain:name></domain:transfer></transfer>", 2005,
         "transfer op \"x\" is not request, query, approve, reject or cancel"),
        ("<poll/>", 2003, "poll needs an op attribute"),
        ("<poll op=\"ack\" msgID=\"-1\"/>", 2005, "msgID \"-1\" is not a message id"),
        ("<check><domain:check/></check>", 2003, "<domain:name> is required"),
        ("<info><domain:info><domain:name hosts=\"x\">a.shop</domain:name></domain:info></info>", 2005,
         "hosts=\"x\" is not all, del, sub or none"),
        ("<create><domain:create><domain:name/></domain:create></create>", 2003, "<name> is empty"),
        ("<update><domain:update><domain:name>a.shop</domain:name><domain:add><domain:status s=\"serverHold\"/></domain:add></domain:update></update>",
         2306, "status \"serverHold\" cannot be set by a registrar"),
        ("<update><domain:update><domain:name>a.shop</domain:name></domain:update></update><extension><rgp:update/></extension>",
         2003, "<rgp:restore> is required"),
        ("<renew><domain:renew><domain:name>a.shop</domain:name><domain:curExpDate>2030-2-1</domain:curExpDate></domain:renew></renew>",
         2005, "curExpDate \"2030-2-1\" is not YYYY-MM-DD"),
        ("<create><host:create><host:name>ns1.a.net</host:name><host:addr>0.0.0.0</host:addr></host:create></create>",
         2306, "0.0.0.0 is not a public unicast address (\"this network\")"),
        ("<update><host:update><host:name>ns1.a.net</host:name><host:add><host:status s=\"ok\"/></host:add></host:update></update>",
         2306, "status \"ok\" cannot be set on a host by a registrar"),
        ("<check><contact:check/></check>", 2003, "<contact:id> is required"),
        ("<create><contact:create><contact:id>c-1</contact:id></contact:create></create>", 2003, "<contact:postalInfo> is required"),
        ("<info><contact:info><contact:id>x</contact:id></contact:info></info>", 2005, "handle \"x\" must be 3 to 16 characters"),
    ];
    for &(inner, code, reason) in table {
        let v = verb(inner);
        let e = v.command.expect_err(inner);
        assert_eq!(e.code, code, "{inner}: {e}");
        assert_eq!(e.reason, reason, "{inner}");
    }
}

#[test]
fn bad_frames_and_session_verbs() {
    let env = |b: &[u8]| {
        decode(b).map(|f| match f {
            Frame::Command(e) => Some(e.request),
            Frame::Hello => None,
        })
    };
    let e = |b: &[u8]| env(b).expect_err("decoded").code;
    assert_eq!(e(b"\xff"), 2001);
    assert_eq!(e(b"<epp"), 2001);
    assert_eq!(e(b"<epp/>"), 2001);
    assert_eq!(e(format!("<epp xmlns=\"{NS_EPP}\"/>").as_bytes()), 2001);
    let short =
        format!("<epp xmlns=\"{NS_EPP}\"><command><logout/><clTRID>ab</clTRID></command></epp>");
    assert_eq!(
        env(short.as_bytes()).unwrap_err().reason,
        "clTRID must be 3 to 64 characters"
    );
    let hello = format!("<epp xmlns=\"{NS_EPP}\"><hello/></epp>");
    assert_eq!(env(hello.as_bytes()), Ok(None));
    let two = format!("<epp xmlns=\"{NS_EPP}\"><command><logout/><logout/></command></epp>");
    assert!(matches!(
        env(two.as_bytes()),
        Ok(Some(Request::Refused {
            label: "invalid",
            ..
        }))
    ));
    let foreign =
        format!("<epp xmlns=\"{NS_EPP}\"><command><x:y xmlns:x=\"urn:x\"/></command></epp>");
    assert!(matches!(
        env(foreign.as_bytes()),
        Ok(Some(Request::Refused { label: "unknown", error })) if error.code == 2000
    ));
    // logout decodes whatever it holds; login bodies are checked
    assert_eq!(
        env(&frame("<logout><x/></logout>")),
        Ok(Some(Request::Logout))
    );
    let login = "<login><clID>reg-a</clID><pw>pw-1</pw><newPW>pw-2</newPW><options><version>1.0</version><lang>en</lang></options></login>";
    assert_eq!(
        env(&frame(login)),
        Ok(Some(Request::Login(Ok(Login {
            clid: "reg-a".into(),
            pw: "pw-1".into(),
            new_pw: Some("pw-2".into()),
        }))))
    );
    let bad_lang = login.replace(">en<", ">fr<");
    assert!(matches!(
        env(&frame(&bad_lang)),
        Ok(Some(Request::Login(Err(e)))) if e.code == 2102
    ));
}

#[test]
fn deferred_fields_keep_their_errors() {
    // a reserved name with a bad period: the name (policy) is answered
    // first by apply, so the period error waits in the command
    let v = verb("<create><domain:create><domain:name>nic.shop</domain:name><domain:period unit=\"y\">x</domain:period>\
<domain:ns><domain:hostAttr/></domain:ns></domain:create></create>");
    let Ok(Command::DomainCreate(c)) = v.command else {
        panic!("{:?}", v.command)
    };
    assert_eq!(c.years.unwrap_err().code, 2005);
    assert_eq!(c.ns.unwrap_err().code, 2102);
    assert_eq!(c.auth_pw.unwrap_err().code, 2003);
    assert_eq!(c.ds, Ok(vec![]));
    let v = verb(
        "<update><domain:update><domain:name>a.shop</domain:name></domain:update></update>\
<extension><rgp:update><rgp:restore/></rgp:update></extension>",
    );
    let Ok(Command::DomainRestore(r)) = v.command else {
        panic!("{:?}", v.command)
    };
    assert_eq!(
        r.op.unwrap_err().reason,
        "restore op \"\" is not request or report"
    );
}
