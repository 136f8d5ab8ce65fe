//! Writing EPP responses and the greeting (RFC 5730 section 2.4, 2.6).
//!
//! Responses are assembled as text with every value escaped by
//! [`esc`]; command handlers supply the `<resData>` and `<extension>`
//! fragments. A failed command carries its reason in
//! `<extValue><value><text>..</text></value><reason>..</reason></extValue>`
//! so that clients which show `reason` (Net::EPP::Simple does) tell the
//! registrar exactly what was wrong.
use crate::clock::{fmt, Ts};
use crate::epp::xml::{esc, NS_CONTACT, NS_DOMAIN, NS_EPP, NS_HOST, NS_RGP, NS_SECDNS};
use crate::model::DsData;
use crate::result::{message, EppError};
use std::fmt::Write;

/// The message-queue element of a response. `id` is required by the
/// schema (`epp:msgQType`), so there is no `<msgQ>` without one.
#[derive(Debug, Clone, Default)]
pub struct MsgQ {
    pub count: usize,
    pub id: u64,
    pub q_date: Option<Ts>,
    pub msg: Option<String>,
}

/// A command's answer before rendering.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub code: u16,
    pub reason: Option<String>,
    pub msgq: Option<MsgQ>,
    pub res_data: Option<String>,
    pub extension: Option<String>,
}

impl Response {
    pub fn ok() -> Response {
        Response {
            code: 1000,
            ..Default::default()
        }
    }
    pub fn code(code: u16) -> Response {
        Response {
            code,
            ..Default::default()
        }
    }
    pub fn with_data(code: u16, res_data: String) -> Response {
        Response {
            code,
            res_data: Some(res_data),
            ..Default::default()
        }
    }
}

impl From<EppError> for Response {
    fn from(e: EppError) -> Self {
        Response {
            code: e.code,
            reason: Some(e.reason),
            ..Default::default()
        }
    }
}

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n";

/// Renders a response frame.
pub fn render(r: &Response, cl_trid: Option<&str>, sv_trid: &str) -> String {
    let mut s = String::with_capacity(512);
    s.push_str(HEAD);
    let _ = write!(s, "<epp xmlns=\"{NS_EPP}\"><response>");
    let _ = write!(
        s,
        "<result code=\"{}\"><msg>{}</msg>",
        r.code,
        message(r.code)
    );
    if let Some(reason) = &r.reason {
        let _ = write!(
            s,
            "<extValue><value><text>{}</text></value><reason>{}</reason></extValue>",
            esc(reason),
            esc(reason)
        );
    }
    s.push_str("</result>");
    if let Some(q) = &r.msgq {
        let _ = write!(s, "<msgQ count=\"{}\" id=\"{}\">", q.count, q.id);
        if let Some(d) = q.q_date {
            let _ = write!(s, "<qDate>{}</qDate>", fmt(d));
        }
        if let Some(m) = &q.msg {
            let _ = write!(s, "<msg>{}</msg>", esc(m));
        }
        s.push_str("</msgQ>");
    }
    if let Some(d) = &r.res_data {
        let _ = write!(s, "<resData>{d}</resData>");
    }
    if let Some(e) = &r.extension {
        let _ = write!(s, "<extension>{e}</extension>");
    }
    s.push_str("<trID>");
    if let Some(c) = cl_trid {
        let _ = write!(s, "<clTRID>{}</clTRID>", esc(c));
    }
    let _ = write!(
        s,
        "<svTRID>{}</svTRID></trID></response></epp>",
        esc(sv_trid)
    );
    s
}

/// The greeting (sent on connect and in answer to `<hello/>`).
pub fn greeting(sv_id: &str, now: Ts) -> String {
    format!(
        "{HEAD}<epp xmlns=\"{NS_EPP}\"><greeting><svID>{}</svID><svDate>{}</svDate>\
<svcMenu><version>1.0</version><lang>en</lang>\
<objURI>{NS_DOMAIN}</objURI><objURI>{NS_HOST}</objURI><objURI>{NS_CONTACT}</objURI>\
<svcExtension><extURI>{NS_SECDNS}</extURI><extURI>{NS_RGP}</extURI></svcExtension></svcMenu>\
<dcp><access><all/></access><statement><purpose><admin/><prov/></purpose>\
<recipient><ours/><public/></recipient><retention><stated/></retention></statement></dcp>\
</greeting></epp>",
        esc(sv_id),
        fmt(now)
    )
}

/// Renders secDNS dsData elements.
pub fn render_ds(ds: &[DsData]) -> String {
    ds.iter()
        .map(|d| {
            format!(
                "<secDNS:dsData><secDNS:keyTag>{}</secDNS:keyTag><secDNS:alg>{}</secDNS:alg>\
<secDNS:digestType>{}</secDNS:digestType><secDNS:digest>{}</secDNS:digest></secDNS:dsData>",
                d.key_tag, d.alg, d.digest_type, d.digest
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::epp::xml::parse;

    #[test]
    fn rendered_frames_parse_and_escape() {
        let mut r = Response::from(EppError::new(2306, "name <x> & y"));
        r.msgq = Some(MsgQ {
            count: 2,
            id: 9,
            q_date: Some(0),
            msg: Some("hi".into()),
        });
        let x = render(&r, Some("c&1"), "S1");
        let e = parse(&x).unwrap();
        let resp = e.child(NS_EPP, "response").unwrap();
        let result = resp.child(NS_EPP, "result").unwrap();
        assert_eq!(result.attr("code"), Some("2306"));
        assert_eq!(
            result
                .child(NS_EPP, "extValue")
                .unwrap()
                .child_text(NS_EPP, "reason"),
            Some("name <x> & y")
        );
        let tr = resp.child(NS_EPP, "trID").unwrap();
        assert_eq!(tr.child_text(NS_EPP, "clTRID"), Some("c&1"));
        assert!(parse(&greeting("tldd <srs>", 0)).is_ok());
    }
}
