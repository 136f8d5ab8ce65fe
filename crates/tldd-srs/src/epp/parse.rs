//! Reading typed values out of request elements, with the result code each
//! violation earns: a required element missing is 2003, a value of the
//! wrong shape 2005, a value out of range 2004, an unsupported option 2102.
use crate::epp::xml::{Elem, NS_SECDNS};
use crate::model::DsData;
use crate::result::{err, EppResult};

/// The trimmed text of a required child element.
pub fn req(el: &Elem, ns: &str, name: &str) -> EppResult<String> {
    match el.child_text(ns, name) {
        Some(t) if !t.is_empty() => Ok(t.to_string()),
        Some(_) => Err(err(2003, format!("<{name}> is empty"))),
        None => Err(err(2003, format!("<{name}> is required"))),
    }
}

/// The text of an optional child; empty counts as absent.
pub fn opt(el: &Elem, ns: &str, name: &str) -> Option<String> {
    el.child_text(ns, name)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// A `<period unit="y|m">` in years (months must be whole years).
pub fn period(el: &Elem, ns: &str, default: u32) -> EppResult<u32> {
    let Some(p) = el.child(ns, "period") else {
        return Ok(default);
    };
    let n: u32 = p
        .text
        .parse()
        .map_err(|_| err(2005, format!("period {:?} is not a number", p.text)))?;
    if !(1..=99).contains(&n) {
        return Err(err(2004, format!("period {n} is outside 1..99")));
    }
    match p.attr("unit") {
        Some("y") => Ok(n),
        Some("m") if n.is_multiple_of(12) => Ok(n / 12),
        Some("m") => Err(err(2306, "periods must be whole years")),
        Some(u) => Err(err(2005, format!("period unit {u:?} is not y or m"))),
        None => Err(err(2003, "period needs a unit attribute")),
    }
}

/// `<authInfo><pw>..</pw></authInfo>`; `<ext>` is not supported.
pub fn auth_pw(el: &Elem, ns: &str) -> EppResult<Option<String>> {
    let Some(a) = el.child(ns, "authInfo") else {
        return Ok(None);
    };
    if a.child(ns, "ext").is_some() {
        return Err(err(2102, "extended authInfo is not supported; use <pw>"));
    }
    match a.child(ns, "pw") {
        Some(pw) => Ok(Some(pw.text.clone())),
        None => Err(err(2003, "<authInfo> needs <pw>")),
    }
}

/// Checks a new authInfo password (RFC 5731 leaves strength to policy).
pub fn check_new_pw(pw: &str) -> EppResult<()> {
    if pw.len() < 6 || pw.len() > 64 {
        return Err(err(2306, "authInfo password must be 6 to 64 characters"));
    }
    Ok(())
}

/// `<status s="..."/>` values of an element.
pub fn statuses(el: &Elem, ns: &str) -> EppResult<Vec<String>> {
    el.all(ns, "status")
        .map(|s| {
            s.attr("s")
                .map(str::to_string)
                .ok_or_else(|| err(2003, "<status> needs an s attribute"))
        })
        .collect()
}

/// One RFC 5910 `<secDNS:dsData>`.
pub fn ds_data(el: &Elem) -> EppResult<DsData> {
    if el.child(NS_SECDNS, "keyData").is_some() {
        return Err(err(2306, "keyData inside dsData is not supported"));
    }
    let num = |name: &str, max: u32| -> EppResult<u32> {
        let t = req(el, NS_SECDNS, name)?;
        let v: u32 = t
            .parse()
            .map_err(|_| err(2005, format!("secDNS {name} {t:?} is not a number")))?;
        if v > max {
            return Err(err(2004, format!("secDNS {name} {v} is out of range")));
        }
        Ok(v)
    };
    let key_tag = num("keyTag", 65535)? as u16;
    let alg = num("alg", 255)? as u8;
    let digest_type = num("digestType", 255)? as u8;
    let digest = req(el, NS_SECDNS, "digest")?.to_ascii_uppercase();
    let bytes = hex::decode(&digest).map_err(|_| err(2005, "secDNS digest is not hex"))?;
    if ![3, 5, 6, 7, 8, 10, 13, 14, 15, 16].contains(&alg) {
        return Err(err(2306, format!("DNSSEC algorithm {alg} is not accepted")));
    }
    let want = match digest_type {
        1 => 20,
        2 => 32,
        4 => 48,
        _ => {
            return Err(err(
                2306,
                format!("DS digest type {digest_type} is not accepted"),
            ))
        }
    };
    if bytes.len() != want {
        return Err(err(
            2306,
            format!(
                "digest of type {digest_type} must be {want} octets, got {}",
                bytes.len()
            ),
        ));
    }
    Ok(DsData {
        key_tag,
        alg,
        digest_type,
        digest,
    })
}

/// All dsData children of `el`; keyData interface elements are refused.
pub fn ds_list(el: &Elem) -> EppResult<Vec<DsData>> {
    if el.child(NS_SECDNS, "keyData").is_some() {
        return Err(err(
            2306,
            "the key data interface is not supported; send dsData",
        ));
    }
    el.all(NS_SECDNS, "dsData").map(ds_data).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::epp::xml::parse;

    fn el(x: &str) -> Elem {
        parse(x).unwrap()
    }

    #[test]
    fn periods() {
        let ns = "urn:x";
        let p = |s: &str| period(&el(&format!("<a xmlns='urn:x'>{s}</a>")), ns, 1);
        assert_eq!(p("").unwrap(), 1);
        assert_eq!(p("<period unit='y'>3</period>").unwrap(), 3);
        assert_eq!(p("<period unit='m'>24</period>").unwrap(), 2);
        assert_eq!(p("<period unit='m'>5</period>").unwrap_err().code, 2306);
        assert_eq!(p("<period unit='y'>x</period>").unwrap_err().code, 2005);
        assert_eq!(p("<period unit='y'>100</period>").unwrap_err().code, 2004);
        assert_eq!(p("<period>1</period>").unwrap_err().code, 2003);
    }

    #[test]
    fn ds_rules() {
        let d = |alg: u32, dt: u32, len: usize| {
            ds_data(&el(&format!(
                "<d xmlns='{NS_SECDNS}'><keyTag>1</keyTag><alg>{alg}</alg><digestType>{dt}</digestType><digest>{}</digest></d>",
                "ab".repeat(len)
            )))
        };
        assert_eq!(d(13, 2, 32).unwrap().digest, "AB".repeat(32));
        assert_eq!(d(13, 2, 20).unwrap_err().code, 2306);
        assert_eq!(d(1, 2, 32).unwrap_err().code, 2306);
        assert_eq!(d(13, 9, 32).unwrap_err().code, 2306);
        assert_eq!(d(300, 2, 32).unwrap_err().code, 2004);
    }
}
