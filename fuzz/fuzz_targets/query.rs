//! Any packet through the whole answer path (parse, lookup, encode, DNS
//! cookies) over UDP and TCP, and what rate limiting would slip of it:
//! must never panic, and a response must be a valid length.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tldd_dns::wire::cookie::{Secret, Secrets};
use tldd_dns::wire::{respond_from, slip, Client, Params, Query, Transport, ZoneSet};

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
    let secrets = Secrets { current: Secret([7; 16]), previous: Some(Secret([8; 16])) };
    let client = Client { ip: "192.0.2.1".parse().unwrap(), now: 1_700_000_000, cookies: &secrets };
    for t in [Transport::Udp, Transport::Tcp] {
        let (len, oc) = respond_from(zones(), &params, data, &mut q, &mut out, t, Some(&client));
        assert!(len <= out.len());
        if t == Transport::Udp {
            assert!(len <= 1232 || len == 0);
            if len > 0 {
                for badcookie in [false, true] {
                    let mut copy = out[..len].to_vec();
                    let n = slip::reply(&mut copy, len, &q, oc.opt_at, badcookie);
                    assert!(n <= len);
                }
            }
        }
    }
});
