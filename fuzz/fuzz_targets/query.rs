//! Any packet through the whole answer path (parse, lookup, encode) over
//! UDP and TCP: must never panic, and a response must be a valid length.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tldd_dns::wire::{respond, Params, Query, Transport, ZoneSet};

fn zones() -> &'static ZoneSet {
    static Z: OnceLock<ZoneSet> = OnceLock::new();
    Z.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../zones/shop.zone");
        let zone = tldd_zone::load::load_file(std::path::Path::new(path), "shop.", &tldd_zone::progress::Quiet).unwrap().zone;
        ZoneSet::new(vec![Arc::new(zone)])
    })
}

fuzz_target!(|data: &[u8]| {
    let params = Params { udp_payload: 1232, nsid: Some(b"fuzz".to_vec()), identity: Some(b"id".to_vec()), version: None };
    let mut q = Query::default();
    let mut out = vec![0u8; 65535];
    for t in [Transport::Udp, Transport::Tcp] {
        let (len, _) = respond(zones(), &params, data, &mut q, &mut out, t);
        assert!(len <= out.len());
        if t == Transport::Udp {
            assert!(len <= 1232 || len == 0);
        }
    }
});
