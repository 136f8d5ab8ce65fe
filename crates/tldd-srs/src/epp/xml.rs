//! A small namespace-resolved element tree over quick-xml, for reading EPP
//! requests, and the escaping used when writing responses.
//!
//! Parsing rules (each violation is an [`XmlError`], answered with 2001):
//! well-formed XML 1.0 with end-tag checking; no DOCTYPE (so no entity
//! expansion of any kind: only the five predefined entities and character
//! references are accepted); only XML 1.0 characters ([`is_xml_char`]),
//! literal or referenced (quick-xml does not check them, and an answer
//! echoing `&#1;` would not be XML); at most [`MAX_DEPTH`] levels and
//! [`MAX_ELEMENTS`] elements; exactly one root element. Element names are
//! resolved to (namespace URI, local name); an element whose prefix is not
//! declared is an error. Text is the concatenation of an element's direct
//! text and CDATA, trimmed of surrounding whitespace.
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

pub const MAX_DEPTH: usize = 32;
pub const MAX_ELEMENTS: usize = 20_000;

pub const NS_EPP: &str = "urn:ietf:params:xml:ns:epp-1.0";
pub const NS_DOMAIN: &str = "urn:ietf:params:xml:ns:domain-1.0";
pub const NS_HOST: &str = "urn:ietf:params:xml:ns:host-1.0";
pub const NS_CONTACT: &str = "urn:ietf:params:xml:ns:contact-1.0";
pub const NS_SECDNS: &str = "urn:ietf:params:xml:ns:secDNS-1.1";
pub const NS_RGP: &str = "urn:ietf:params:xml:ns:rgp-1.0";

#[derive(Debug, Clone, PartialEq)]
pub struct XmlError(pub String);

/// One element.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Elem {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Elem>,
    pub text: String,
}

impl Elem {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// Children with this namespace and local name.
    pub fn all<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a Elem> + 'a {
        self.children
            .iter()
            .filter(move |c| c.ns == ns && c.name == name)
    }
    pub fn child(&self, ns: &str, name: &str) -> Option<&Elem> {
        self.children.iter().find(|c| c.ns == ns && c.name == name)
    }
    pub fn child_text(&self, ns: &str, name: &str) -> Option<&str> {
        self.child(ns, name).map(|c| c.text.as_str())
    }
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }
}

fn resolve(r: ResolveResult<'_>, what: &[u8]) -> Result<String, XmlError> {
    match r {
        ResolveResult::Bound(ns) => Ok(String::from_utf8_lossy(ns.as_ref()).into_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(p) => Err(XmlError(format!(
            "undeclared namespace prefix {:?} on <{}>",
            String::from_utf8_lossy(&p),
            String::from_utf8_lossy(what)
        ))),
    }
}

/// XML 1.0 `Char` (section 2.2): what a document may contain, literally
/// or as a character reference. Anything else makes it not well-formed,
/// and an answer that echoed it would not be either.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn legal(s: &str, what: &str) -> Result<(), XmlError> {
    match s.chars().find(|&c| !is_xml_char(c)) {
        None => Ok(()),
        Some(c) => Err(XmlError(format!(
            "character U+{:04X} is not allowed in XML ({what})",
            c as u32
        ))),
    }
}

/// Parses a document into its root element.
pub fn parse(text: &str) -> Result<Elem, XmlError> {
    legal(text, "in the document")?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Elem> = Vec::new();
    let mut root: Option<Elem> = None;
    let mut count = 0usize;
    loop {
        let pos = reader.buffer_position();
        let (res, ev) = reader
            .read_resolved_event()
            .map_err(|e| XmlError(format!("not well-formed XML after byte {pos}: {e}")))?;
        let ev = ev.into_owned();
        match ev {
            Event::Start(ref s) | Event::Empty(ref s) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError("too many elements".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError("elements nested too deeply".into()));
                }
                if root.is_some() {
                    return Err(XmlError("content after the root element".into()));
                }
                let ns = resolve(res, s.name().as_ref())?;
                let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                let mut attrs = Vec::new();
                for a in s.attributes() {
                    let a = a.map_err(|e| XmlError(format!("bad attribute on <{name}>: {e}")))?;
                    let key = a.key;
                    if key.as_ref().starts_with(b"xmlns") {
                        continue;
                    }
                    let local = String::from_utf8_lossy(key.local_name().as_ref()).into_owned();
                    let v = a
                        .unescape_value()
                        .map_err(|e| XmlError(format!("bad attribute value on <{name}>: {e}")))?;
                    legal(&v, "in an attribute value")?;
                    attrs.push((local, v.into_owned()));
                }
                let el = Elem {
                    ns,
                    name,
                    attrs,
                    ..Default::default()
                };
                if matches!(ev, Event::Empty(_)) {
                    attach(&mut stack, &mut root, el);
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let mut el = stack
                    .pop()
                    .ok_or_else(|| XmlError("unbalanced end tag".into()))?;
                el.text = el.text.trim().to_string();
                attach(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let s = t
                    .xml10_content()
                    .map_err(|e| XmlError(format!("bad text: {e}")))?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(XmlError("text outside the root element".into())),
                }
            }
            Event::CData(c) => {
                let s = c
                    .decode()
                    .map_err(|e| XmlError(format!("bad CDATA: {e}")))?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&s),
                    None => return Err(XmlError("CDATA outside the root element".into())),
                }
            }
            Event::GeneralRef(r) => {
                let resolved: String = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => c.to_string(),
                        Ok(Some(c)) => {
                            return Err(XmlError(format!(
                                "character reference to U+{:04X}, which XML does not allow",
                                c as u32
                            )))
                        }
                        _ => return Err(XmlError("bad character reference".into())),
                    }
                } else {
                    let name = r
                        .decode()
                        .map_err(|e| XmlError(format!("bad entity reference: {e}")))?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(v) => v.to_string(),
                        None => return Err(XmlError(format!("undefined entity &{name};"))),
                    }
                };
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&resolved),
                    None => return Err(XmlError("reference outside the root element".into())),
                }
            }
            Event::DocType(_) => return Err(XmlError("DOCTYPE is not allowed in EPP".into())),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError(format!(
            "unclosed element <{}>",
            stack[stack.len() - 1].name
        )));
    }
    root.ok_or_else(|| XmlError("empty document".into()))
}

fn attach(stack: &mut [Elem], root: &mut Option<Elem>, el: Elem) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

/// Escapes text for element content and attribute values.
pub fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_namespaces_and_text() {
        let x = r#"<?xml version="1.0"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><command><info>
            <domain:info xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:name hosts="all"> a&amp;b&#46;shop </domain:name></domain:info>
            </info><clTRID>X</clTRID></command></epp>"#;
        let e = parse(x).unwrap();
        assert!(e.is(NS_EPP, "epp"));
        let info = e
            .child(NS_EPP, "command")
            .unwrap()
            .child(NS_EPP, "info")
            .unwrap();
        let d = info.child(NS_DOMAIN, "info").unwrap();
        let n = d.child(NS_DOMAIN, "name").unwrap();
        assert_eq!(n.text, "a&b.shop");
        assert_eq!(n.attr("hosts"), Some("all"));
    }

    #[test]
    fn rejects_bad_documents() {
        for bad in [
            "",
            "<epp>",
            "<a></b>",
            "<a/><b/>",
            "<x:a/>",
            "<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
            "<a>&nope;</a>",
            "not xml at all",
            "<a>x&#1;y</a>",
            "<a>&#xFFFE;</a>",
            "<a b=\"&#0;\"/>",
            "<a>\u{1}</a>",
            "<a>\u{FFFF}</a>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse("<a>&#9;&#xA;&#x10000;</a>").unwrap().text,
            "\u{10000}"
        );
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(parse(&deep).unwrap_err().0.contains("deeply"));
    }
}
