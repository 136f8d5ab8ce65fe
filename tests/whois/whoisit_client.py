#!/usr/bin/env python3
"""A real RDAP client (PyPI `whoisit`) fetching and parsing tldd's answers.

    python3 whoisit_client.py BASE_URL domain NAME

(whoisit looks up domains by TLD bootstrap; its entity lookups are for RIRs
and it has no nameserver lookup, so domains are what it can exercise.)

Bootstraps whoisit offline with IANA-shaped data that maps .shop to
BASE_URL, runs the lookup and prints the parsed result as one JSON line
(dates as ISO strings). Exits non-zero if whoisit fails to fetch or parse.
"""
import json
import sys

import whoisit

base, kind, name = sys.argv[1], sys.argv[2], sys.argv[3]
svc = lambda sel: {"services": [[sel, [base]]]}
whoisit.load_bootstrap_data(
    json.dumps({
        "timestamp": 1700000000,
        "asn": svc(["64496-64511"]),
        "dns": svc(["shop"]),
        "ipv4": svc(["192.0.2.0/24"]),
        "ipv6": svc(["2001:db8::/32"]),
        "object": svc(["TEST"]),
    }),
    allow_insecure=True,
)
assert kind == "domain", "only domain lookups"
res = whoisit.domain(name, allow_insecure_ssl=True, follow_related=False)
print(json.dumps(res, default=str))
