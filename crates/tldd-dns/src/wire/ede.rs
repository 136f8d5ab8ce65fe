//! Extended DNS Errors (RFC 8914) on error replies: why a request was
//! refused, for the sender that asked with EDNS.
//!
//! Update error replies (header, the question, the OPT record and nothing
//! else: [`super::answer::reply_rcode`]'s layout) get theirs from
//! [`append`], which adds the option to the OPT record found right after
//! the question. The query path writes its two (20 for a name in no zone
//! of ours, 22 for an expired secondary zone) with the OPT record itself
//! (`Writer::opt`), at no cost to answers that are not errors.

/// EDE option code (RFC 8914 §2).
pub const OPT_EDE: u16 = 15;

/// INFO-CODEs used here (RFC 8914 §4).
pub mod code {
    /// 0: the EXTRA-TEXT says it.
    pub const OTHER: u16 = 0;
    /// 14: the server cannot answer now (a zone frozen or not loaded yet).
    pub const NOT_READY: u16 = 14;
    /// 18: the request is not allowed (policy, key, ACL).
    pub const PROHIBITED: u16 = 18;
    /// 20: not authoritative for the zone.
    pub const NOT_AUTHORITATIVE: u16 = 20;
    /// 22: no authority reachable (a secondary zone that expired).
    pub const NO_REACHABLE_AUTHORITY: u16 = 22;
}

/// Longest EXTRA-TEXT written, in octets (cut on a character boundary).
pub const MAX_TEXT: usize = 200;

/// Appends an EDE option (`info_code`, `text`) to the OPT record of the
/// error reply `msg`, whose question ends at `question_end`. A reply
/// without that OPT record (the request had no EDNS) is left as it is.
pub fn append(msg: &mut Vec<u8>, question_end: usize, info_code: u16, text: &str) {
    let at = question_end;
    // OPT: root name, TYPE 41, CLASS, TTL, RDLENGTH at +9.
    if msg.len() < at + 11 || msg[at] != 0 || msg[at + 1..at + 3] != [0, 41] {
        return;
    }
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &text.as_bytes()[..end];
    let rdlen = u16::from_be_bytes([msg[at + 9], msg[at + 10]]) as usize;
    if msg.len() != at + 11 + rdlen {
        return; // not the last record: not an error reply's layout
    }
    let added = 4 + 2 + text.len();
    let Ok(new_len) = u16::try_from(rdlen + added) else {
        return;
    };
    msg[at + 9..at + 11].copy_from_slice(&new_len.to_be_bytes());
    msg.extend_from_slice(&OPT_EDE.to_be_bytes());
    msg.extend_from_slice(&((2 + text.len()) as u16).to_be_bytes());
    msg.extend_from_slice(&info_code.to_be_bytes());
    msg.extend_from_slice(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_to_the_opt_record_and_parsed_back() {
        // header, question shop. SOA IN, OPT with one NSID option.
        let mut m = vec![0x12, 0x34, 0x80, 0x05, 0, 1, 0, 0, 0, 0, 0, 1];
        m.extend_from_slice(b"\x04shop\x00\x00\x06\x00\x01");
        let qend = m.len();
        m.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 6, 0, 3, 0, 2, b'n', b'1']);
        append(
            &mut m,
            qend,
            code::PROHIBITED,
            "apex records cannot be updated",
        );
        let msg = hickory_proto::op::Message::from_vec(&m).unwrap();
        let edns = msg.edns.expect("OPT kept");
        let ede = edns
            .options()
            .get(hickory_proto::rr::rdata::opt::EdnsCode::from(OPT_EDE))
            .expect("EDE");
        match ede {
            hickory_proto::rr::rdata::opt::EdnsOption::Unknown(15, v) => {
                assert_eq!(&v[..2], &code::PROHIBITED.to_be_bytes());
                assert_eq!(&v[2..], b"apex records cannot be updated");
            }
            o => panic!("{o:?}"),
        }
        // No OPT (no EDNS in the request): unchanged.
        let mut plain = m[..qend].to_vec();
        let before = plain.clone();
        append(&mut plain, qend, code::OTHER, "x");
        assert_eq!(plain, before);
        // Text cut on a character boundary.
        let mut m2 = m[..qend].to_vec();
        m2.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
        append(&mut m2, qend, code::OTHER, &"é".repeat(150));
        let text_len = m2.len() - (qend + 11 + 6);
        assert!(text_len <= MAX_TEXT && text_len % 2 == 0, "{text_len}");
    }
}
