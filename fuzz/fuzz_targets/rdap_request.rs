//! Any bytes as what a client sent before the RDAP listener accepted its
//! connection: the fast path's request check must never panic, and what it
//! takes must be what it promises (a GET or HEAD asking to close, with the
//! whole input being its head).
#![no_main]
use libfuzzer_sys::fuzz_target;
use tldd_srs::rdds::rdap::fast::closing_request;

fuzz_target!(|data: &[u8]| {
    let peer = "192.0.2.1:40000".parse().unwrap();
    if let Some(req) = closing_request(data, peer) {
        assert!(matches!(req.method().as_str(), "GET" | "HEAD"));
        // the head ends the input (httparse takes LF or CRLF line ends)
        assert_eq!(data.last(), Some(&b'\n'));
        let close = req
            .headers()
            .get_all("connection")
            .iter()
            .any(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase().contains("close"));
        assert!(close);
    }
});
