#!/usr/bin/python3
"""Ask one DNS question with dnspython and print the response as JSON.

usage: dnsq.py ADDR PORT QNAME QTYPE [--tcp] [--do] [--edns N] [--bufsize N]
               [--nsid] [--class CH] [--opcode N]
Prints {"rcode", "flags", "answer", "authority", "additional", "edns", ...}
or {"timeout": true}.
"""
import argparse, json, sys
import dns.edns, dns.flags, dns.message, dns.opcode, dns.query, dns.rcode, dns.rdataclass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('addr'); ap.add_argument('port', type=int)
    ap.add_argument('qname'); ap.add_argument('qtype')
    ap.add_argument('--tcp', action='store_true')
    ap.add_argument('--do', action='store_true')
    ap.add_argument('--edns', type=int, default=None)
    ap.add_argument('--bufsize', type=int, default=1232)
    ap.add_argument('--nsid', action='store_true')
    ap.add_argument('--klass', default='IN')
    ap.add_argument('--opcode', type=int, default=0)
    a = ap.parse_args()
    opts = [dns.edns.GenericOption(dns.edns.NSID, b'')] if a.nsid else []
    edns = a.edns if a.edns is not None else (0 if (a.do or a.nsid) else -1)
    q = dns.message.make_query(a.qname, a.qtype, rdclass=dns.rdataclass.from_text(a.klass))
    if edns >= 0:
        q.use_edns(edns, ednsflags=dns.flags.DO if a.do else 0, payload=a.bufsize, options=opts)
    q.flags &= ~dns.flags.RD
    if a.opcode:
        q.set_opcode(a.opcode)
    try:
        if a.tcp:
            r = dns.query.tcp(q, a.addr, port=a.port, timeout=5)
        else:
            r = dns.query.udp(q, a.addr, port=a.port, timeout=5, ignore_trailing=False)
    except dns.exception.Timeout:
        print(json.dumps({'timeout': True})); return
    sec = lambda s: sorted(rr for rrset in s for rr in rrset.to_text().lower().split('\n'))
    out = {
        'rcode': dns.rcode.to_text(r.rcode()),
        'flags': sorted(dns.flags.to_text(r.flags).split()),
        'answer': sec(r.answer), 'authority': sec(r.authority), 'additional': sec(r.additional),
        'edns': r.edns, 'payload': r.payload if r.edns >= 0 else None,
        'do': bool(r.ednsflags & dns.flags.DO),
        'nsid': [o.data.decode() for o in r.options if o.otype == dns.edns.NSID] if r.edns >= 0 else [],
        'question': [q.to_text() for q in r.question],
        'size': len(r.to_wire()),
    }
    print(json.dumps(out))


if __name__ == '__main__':
    main()
