//! Any bytes as a Whois query line, in any chunking, and as an RDAP name:
//! the line reader, the query parser (keywords, IDN in U- or A-label form)
//! and the name normalisation must never panic, and what they accept must
//! be within the limits they promise.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tldd_srs::rdds::{query, reply::LineReader, view::normalize_name};

fuzz_target!(|data: &[u8]| {
    // the first byte picks the chunk size, the rest is what the client sent
    let Some((&split, sent)) = data.split_first() else { return };
    let max = 256;
    let mut lines = LineReader::new(max);
    let mut line = None;
    for chunk in sent.chunks(usize::from(split).max(1)) {
        if let Some(l) = lines.push(chunk) {
            line = Some(l);
            break;
        }
    }
    let line = line.unwrap_or_else(|| lines.eof());
    if let Ok((line, _more)) = line {
        assert!(line.len() <= max);
        assert!(!line.contains(&b'\n'));
        if let Ok(query::Query::Domain(n)) = query::parse(&line, "shop") {
            assert!(n.ascii.is_ascii() && n.ascii == n.ascii.to_ascii_lowercase());
        }
    }
    if let Ok(text) = std::str::from_utf8(sent) {
        if let Ok(n) = normalize_name(text) {
            assert!(n.ascii.is_ascii());
            assert!(!n.ascii.ends_with('.'));
        }
    }
});
