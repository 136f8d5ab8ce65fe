//! The Whois answer texts: ICANN Registry Agreement Specification 4 as
//! relabelled by the 2017 Registration Data Directory Services Consistent
//! Labeling and Display Policy.
//!
//! Every line ends in CRLF. Keys appear in the policy's order; a key whose
//! value is unknown is printed with an empty value (the policy's rule), a
//! redacted value as `REDACTED FOR PRIVACY`. Domain answers end with the
//! complaint-form URL, the `>>> Last update of WHOIS database: ... <<<`
//! line (the store is read live, so this is the time of the answer), the
//! status-code notice and the registry's terms. Names are printed as stored:
//! lower-case A-labels; an IDN domain also gets `Internationalized Domain
//! Name:` with its U-label right after `Domain Name:`.
use crate::model::Contact;
use crate::model::Registrar;
use crate::rdds::view::{postal, shown, time, ContactPoint, DomainView, Field, HostView, REDACTED};
use std::fmt::Write;

/// Lines accumulated with CRLF ends.
#[derive(Default)]
pub struct Out(pub String);

impl Out {
    pub fn kv(&mut self, k: &str, v: &str) {
        self.kv2(k, "", v);
    }
    /// `k1k2: v` (a key made of two parts, without a temporary string).
    pub fn kv2(&mut self, k1: &str, k2: &str, v: &str) {
        self.0.push_str(k1);
        self.0.push_str(k2);
        self.0.push_str(": ");
        // values come from the store; keep them on one line
        if v.chars().any(char::is_control) {
            self.0
                .extend(v.chars().map(|c| if c.is_control() { ' ' } else { c }));
        } else {
            self.0.push_str(v);
        }
        self.0.push_str("\r\n");
    }
    pub fn line(&mut self, l: &str) {
        self.0.push_str(l);
        self.0.push_str("\r\n");
    }
}

/// What precedes the time in the `>>> Last update ... <<<` line (the
/// answer cache refreshes the time after it).
pub const LAST_UPDATE_MARK: &[u8] = b">>> Last update of WHOIS database: ";

/// Texts every answer ends with, and what replaces a redacted e-mail.
pub struct Footer<'a> {
    pub terms: &'a str,
    /// The same choice RDAP makes (see [`ContactPoint`]).
    pub email: ContactPoint<'a>,
}

impl Footer<'_> {
    fn last_update(&self, out: &mut Out, now: i64) {
        let _ = write!(
            out.0,
            ">>> Last update of WHOIS database: {} <<<\r\n",
            time(now)
        );
    }
    fn terms(&self, out: &mut Out) {
        out.line("");
        for para in self.terms.lines() {
            out.line(para);
        }
    }
}

fn registrar_lines(out: &mut Out, r: Option<&Registrar>) {
    let get = |f: fn(&Registrar) -> Option<&String>| r.and_then(f).cloned().unwrap_or_default();
    out.kv("Registrar WHOIS Server", &get(|r| r.whois_server.as_ref()));
    out.kv("Registrar URL", &get(|r| r.url.as_ref()));
}

fn contact_block(
    out: &mut Out,
    role: &str,
    id_key: &str,
    c: Option<&Contact>,
    redact: bool,
    email: ContactPoint,
) {
    let Some(c) = c else {
        for k in [
            " Name",
            " Organization",
            " Street",
            " City",
            " State/Province",
            " Postal Code",
            " Country",
            " Phone",
            " Phone Ext",
            " Fax",
            " Fax Ext",
            " Email",
        ] {
            if k == " Name" {
                out.kv(id_key, "");
            }
            out.kv2(role, k, "");
        }
        return;
    };
    fn pick(show: bool, val: &str) -> &str {
        if show {
            val
        } else {
            REDACTED
        }
    }
    let v = |f: Field, val| pick(shown(redact, c, f), val);
    let p = postal(c);
    out.kv(id_key, v(Field::Handle, &c.id));
    out.kv2(
        role,
        " Name",
        v(Field::Name, p.map(|p| p.name.as_str()).unwrap_or("")),
    );
    out.kv2(
        role,
        " Organization",
        p.and_then(|p| p.org.as_deref()).unwrap_or(""),
    );
    let streets: Vec<&str> = p
        .map(|p| p.street.iter().map(String::as_str).collect())
        .unwrap_or_default();
    if !shown(redact, c, Field::Street) {
        out.kv2(role, " Street", REDACTED);
    } else if streets.is_empty() {
        out.kv2(role, " Street", "");
    } else {
        for s in streets {
            out.kv2(role, " Street", s);
        }
    }
    out.kv2(
        role,
        " City",
        v(Field::City, p.map(|p| p.city.as_str()).unwrap_or("")),
    );
    out.kv2(
        role,
        " State/Province",
        p.and_then(|p| p.sp.as_deref()).unwrap_or(""),
    );
    out.kv2(
        role,
        " Postal Code",
        v(
            Field::PostalCode,
            p.and_then(|p| p.pc.as_deref()).unwrap_or(""),
        ),
    );
    out.kv2(role, " Country", p.map(|p| p.cc.as_str()).unwrap_or(""));
    for (label, phone, f) in [
        (" Phone", &c.voice, Field::Phone),
        (" Fax", &c.fax, Field::Fax),
    ] {
        let num = phone.as_ref().map(|p| p.number.as_str()).unwrap_or("");
        let ext = phone.as_ref().and_then(|p| p.ext.as_deref()).unwrap_or("");
        out.kv2(role, label, v(f, num));
        out.kv2(
            role,
            if f == Field::Phone {
                " Phone Ext"
            } else {
                " Fax Ext"
            },
            v(f, ext),
        );
    }
    let email = if shown(redact, c, Field::Email) {
        c.email.as_str()
    } else {
        email.whois()
    };
    out.kv2(role, " Email", email);
}

/// A domain answer.
pub fn domain(v: &DomainView, redact: bool, footer: &Footer) -> String {
    let d = &v.domain;
    let r = v.registrar.as_ref();
    let mut out = Out::default();
    out.kv("Domain Name", &d.name);
    if let Some(u) = &v.unicode {
        out.kv("Internationalized Domain Name", u);
    }
    out.kv("Registry Domain ID", &d.roid);
    registrar_lines(&mut out, r);
    out.kv("Updated Date", &time(v.updated()));
    out.kv("Creation Date", &time(d.cr_date));
    out.kv("Registry Expiry Date", &time(d.ex_date));
    out.kv("Registrar", r.map(|r| r.name.as_str()).unwrap_or(&d.cl_id));
    out.kv(
        "Registrar IANA ID",
        &r.map(|r| r.iana_id.to_string()).unwrap_or_default(),
    );
    out.kv(
        "Registrar Abuse Contact Email",
        r.and_then(|r| r.abuse_email.as_deref()).unwrap_or(""),
    );
    out.kv(
        "Registrar Abuse Contact Phone",
        r.and_then(|r| r.abuse_phone.as_deref()).unwrap_or(""),
    );
    for s in &v.statuses {
        out.kv("Domain Status", &format!("{s} https://icann.org/epp#{s}"));
    }
    contact_block(
        &mut out,
        "Registrant",
        "Registry Registrant ID",
        v.registrant.as_ref(),
        redact,
        footer.email,
    );
    contact_block(
        &mut out,
        "Admin",
        "Registry Admin ID",
        v.admin.as_ref(),
        redact,
        footer.email,
    );
    contact_block(
        &mut out,
        "Tech",
        "Registry Tech ID",
        v.tech.as_ref(),
        redact,
        footer.email,
    );
    for ns in &d.ns {
        out.kv("Name Server", ns);
    }
    out.kv(
        "DNSSEC",
        if d.ds.is_empty() {
            "unsigned"
        } else {
            "signedDelegation"
        },
    );
    out.kv(
        "URL of the ICANN Whois Inaccuracy Complaint Form",
        "https://www.icann.org/wicf/",
    );
    footer.last_update(&mut out, v.now);
    out.line("");
    out.line("For more information on Whois status codes, please visit https://icann.org/epp");
    footer.terms(&mut out);
    out.0
}

/// A name server (host) answer.
pub fn host(v: &HostView, footer: &Footer) -> String {
    let r = v.registrar.as_ref();
    let mut out = Out::default();
    out.kv("Server Name", &v.host.name);
    if let Some(u) = &v.unicode {
        out.kv("Internationalized Server Name", u);
    }
    for a in &v.host.addrs {
        out.kv("IP Address", &a.to_string());
    }
    out.kv(
        "Registrar",
        r.map(|r| r.name.as_str()).unwrap_or(&v.host.cl_id),
    );
    registrar_lines(&mut out, r);
    footer.last_update(&mut out, v.now);
    footer.terms(&mut out);
    out.0
}

/// A registrar answer.
pub fn registrar(r: &Registrar, now: i64, footer: &Footer) -> String {
    let mut out = Out::default();
    // Spec 4 §1.6 registrar data, with the IANA ID after the name
    out.kv("Registrar Name", &r.name);
    out.kv("Registrar IANA ID", &r.iana_id.to_string());
    let c = &r.contact;
    if c.street.is_empty() {
        out.kv("Street", "");
    }
    for line in &c.street {
        out.kv("Street", line);
    }
    for (k, v) in [
        ("City", &c.city),
        ("State/Province", &c.sp),
        ("Postal Code", &c.pc),
        ("Country", &c.cc),
        ("Phone Number", &c.phone),
        ("Fax Number", &c.fax),
        ("Email", &c.email),
    ] {
        out.kv(k, v.as_deref().unwrap_or(""));
    }
    registrar_lines(&mut out, Some(r));
    out.kv(
        "Registrar Abuse Contact Email",
        r.abuse_email.as_deref().unwrap_or(""),
    );
    out.kv(
        "Registrar Abuse Contact Phone",
        r.abuse_phone.as_deref().unwrap_or(""),
    );
    footer.last_update(&mut out, now);
    footer.terms(&mut out);
    out.0
}

/// "Domain not found." and friends.
pub fn not_found(what: &str, now: i64, footer: &Footer) -> String {
    let mut out = Out::default();
    out.line(&format!("{what} not found."));
    footer.last_update(&mut out, now);
    footer.terms(&mut out);
    out.0
}
