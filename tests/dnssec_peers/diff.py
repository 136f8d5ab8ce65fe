# Differential check: the same DO=1 queries to tldd, NSD and Knot serving the
# same signed zone file; answer and authority sections (records, ignoring
# TTL), rcode and AA/TC must agree. Additional-section differences are
# reported, not failed (servers choose glue differently).
# usage: diff.py QUERYFILE tldd=PORT nsd=PORT knot=PORT
import sys, dns.message, dns.query, dns.rdatatype, dns.flags

def ask(port, name, qtype):
    q = dns.message.make_query(name, qtype, want_dnssec=True, payload=4096)
    q.flags &= ~dns.flags.RD
    for _ in range(3):
        try:
            return dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
        except dns.exception.Timeout:
            pass
    raise SystemExit(f"no answer from port {port} for {name} {qtype}")

def norm(section):
    out = set()
    for rrset in section:
        if rrset.rdtype == dns.rdatatype.OPT:
            continue
        for rd in rrset:
            out.add((rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype), rd.to_text().lower()))
    return out

def shape(m):
    auth = norm(m.authority)
    if m.answer:
        # NSD adds the apex NS RRset to positive answers (no minimal
        # responses); tldd and Knot do not. Not a DNSSEC matter.
        auth = {r for r in auth if not (r[1] == "NS" or (r[1] == "RRSIG" and r[2].startswith("ns ")))}
    return {
        "rcode": m.rcode(),
        "aa": bool(m.flags & dns.flags.AA),
        "tc": bool(m.flags & dns.flags.TC),
        "answer": norm(m.answer),
        "authority": auth,
    }

queries = [l.split() for l in open(sys.argv[1]) if l.strip()]
servers = dict(a.split("=") for a in sys.argv[2:])
ref = "tldd"
fails = 0
notes = 0
for name, qtype in queries:
    got = {s: ask(int(p), name, qtype) for s, p in servers.items()}
    base = shape(got[ref])
    for s, m in got.items():
        if s == ref:
            continue
        other = shape(m)
        for k in base:
            if base[k] != other[k]:
                fails += 1
                if isinstance(base[k], set):
                    print(f"DIFF {name} {qtype} {k} vs {s}: only tldd {sorted(base[k] - other[k])}; only {s} {sorted(other[k] - base[k])}")
                else:
                    print(f"DIFF {name} {qtype} {k} vs {s}: tldd {base[k]} {s} {other[k]}")
        if norm(got[ref].additional) != norm(m.additional):
            notes += 1
print(f"{len(queries)} queries, {fails} differences, {notes} additional-section differences (not failed)")
sys.exit(1 if fails else 0)
