#!/usr/bin/python3
"""Differential test: tldd against NSD and Knot on one generated TLD zone.

usage: differential.py TLDD_BIN [N_DELEGATIONS] [N_QUERIES] [--zone FILE --origin O]

Generates a zone with benches/gen_tld_zone.py (unless --zone), serves it from
tldd, NSD and Knot on loopback, asks every server the same questions over UDP
(the generator's TLD query mix plus edge cases: DS at cuts, names at and below
cuts, glue names, empty non-terminals, upper case, DO=1, no EDNS, small
buffers) and compares rcode, flags and the three sections (as sorted,
lower-cased record texts). An answer passes when it equals NSD's or Knot's.
Exits 1 when fewer than 99.9% pass. Prints every difference it found.

Known, deliberate differences between the peers (why "NSD or Knot"):
- NSD adds the apex NS RRset to the authority section of positive answers;
  Knot answers minimally (as tldd does).
- For ANY, Knot (and tldd) give the RFC 8482 HINFO over UDP; NSD answers all.
"""
import os, random, shutil, signal, socket, subprocess, sys, tempfile, time
import dns.flags, dns.message, dns.query, dns.rcode, dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_ready(port, origin, proc, name):
    end = time.time() + 60
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f'{name} exited with {proc.returncode}')
        try:
            q = dns.message.make_query(origin, 'SOA')
            r = dns.query.udp(q, '127.0.0.1', port=port, timeout=0.5)
            if r.answer:
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit(f'{name} did not answer SOA for {origin} on {port}')


def normalize(r):
    if r is None:
        return ('TIMEOUT',)
    sec = lambda s: tuple(sorted(line.lower() for rrset in s for line in rrset.to_text().split('\n')))
    fl = tuple(sorted(f for f in dns.flags.to_text(r.flags).split() if f not in ('RA',)))
    edns = (r.edns, bool(r.ednsflags & dns.flags.DO)) if r.edns >= 0 else None
    return (dns.rcode.to_text(r.rcode()), fl, sec(r.answer), sec(r.authority), sec(r.additional), edns)


def ask(port, qname, qtype, edns, do, payload):
    q = dns.message.make_query(qname, qtype)
    q.flags &= ~dns.flags.RD
    if edns:
        q.use_edns(0, ednsflags=dns.flags.DO if do else 0, payload=payload)
    try:
        return dns.query.udp(q, '127.0.0.1', port=port, timeout=2)
    except dns.exception.Timeout:
        try:
            return dns.query.udp(q, '127.0.0.1', port=port, timeout=2)
        except dns.exception.Timeout:
            return None


def main():
    args = sys.argv[1:]
    tldd = args.pop(0)
    zone = origin = None
    if '--zone' in args:
        i = args.index('--zone'); zone = os.path.abspath(args[i + 1]); del args[i:i + 2]
    if '--origin' in args:
        i = args.index('--origin'); origin = args[i + 1].rstrip('.'); del args[i:i + 2]
    n_deleg = int(args[0]) if args else 3000
    n_q = int(args[1]) if len(args) > 1 else 4000
    work = tempfile.mkdtemp(prefix='tldd-diff-')
    procs = []
    rnd = random.Random(7)
    try:
        qfile = f'{work}/q.txt'
        if zone is None:
            origin = 'shop'
            zone = f'{work}/shop.zone'
            subprocess.run(['/usr/bin/python3', f'{ROOT}/benches/gen_tld_zone.py', origin, str(n_deleg), zone, qfile, str(n_q), '11'], check=True)
            queries = [l.split() for l in open(qfile) if l.strip()]
        else:
            queries = []
        # Edge cases from the zone itself.
        cuts, glue, ds = [], [], []
        for line in open(zone):
            f = line.split()
            if len(f) >= 5 and not line.startswith(('$', ';')):
                owner = f[0] if f[0].endswith('.') else f'{f[0]}.{origin}.'
                if f[3] == 'NS' and owner != f'{origin}.':
                    cuts.append(owner)
                elif f[3] in ('A', 'AAAA') and owner.count('.') > 2:
                    glue.append(owner)
                elif f[3] == 'DS':
                    ds.append(owner)
        cuts = sorted(set(cuts))
        for c in rnd.sample(cuts, min(300, len(cuts))):
            queries += [[c, 'DS'], [c, 'NS'], [c, 'A'], ['deep.sub.' + c, 'AAAA'], [c.upper(), 'SOA']]
        for g in rnd.sample(glue, min(200, len(glue))):
            queries += [[g, 'A'], [g, 'AAAA']]
        for d in ds[:100]:
            queries += [[d, 'DS']]
        queries += [[f'{origin}.', t] for t in ('SOA', 'NS', 'DNSKEY', 'MX', 'TXT', 'A', 'NSEC3PARAM')]
        queries += [[f'nic.{origin}.', 'A'], [f'a.nic.{origin}.', 'A'], [f'a.nic.{origin}.', 'AAAA'],
                    [f'nope.nic.{origin}.', 'A'], [f'x.y.z.{origin}.', 'A'], [f'nic.{origin}.', 'NS']]
        # Peers.
        os.makedirs(f'{work}/nsd'); os.makedirs(f'{work}/knot'); os.makedirs(f'{work}/tldd')
        pn, pk, pt = free_port(), free_port(), free_port()
        open(f'{work}/nsd/nsd.conf', 'w').write(f'''server:
    ip-address: 127.0.0.1@{pn}
    server-count: 1
    username: ""
    chroot: ""
    database: ""
    pidfile: {work}/nsd/nsd.pid
    xfrdfile: {work}/nsd/xfrd.state
    zonelistfile: {work}/nsd/zone.list
    logfile: {work}/nsd/nsd.log
    minimal-responses: no
remote-control:
    control-enable: no
zone:
    name: {origin}
    zonefile: {zone}
''')
        open(f'{work}/knot/knot.conf', 'w').write(f'''server:
    listen: 127.0.0.1@{pk}
    rundir: {work}/knot
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: {work}/knot
zone:
  - domain: {origin}
    file: {zone}
    journal-content: none
    zonefile-sync: -1
''')
        open(f'{work}/tldd/tldd.toml', 'w').write(f'''[server]
listen = ["127.0.0.1:{pt}"]
data_dir = "{work}/tldd/data"
udp_workers = 1
[[zone]]
origin = "{origin}."
file = "{zone}"
''')
        for name, cmd, port in (('nsd', ['nsd', '-d', '-c', f'{work}/nsd/nsd.conf'], pn),
                                ('knot', ['knotd', '-c', f'{work}/knot/knot.conf'], pk),
                                ('tldd', [tldd, 'serve', '-c', f'{work}/tldd/tldd.toml'], pt)):
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(f'{work}/{name}.log', 'w'))
            procs.append(p)
            wait_ready(port, f'{origin}.', p, name)
        total = same = 0
        diffs = []
        variants = [(True, True, 1232), (True, False, 1232), (False, False, 512), (True, True, 4096)]
        for i, (qname, qtype) in enumerate(queries):
            edns, do, payload = variants[i % len(variants)]
            rt = normalize(ask(pt, qname, qtype, edns, do, payload))
            rn = normalize(ask(pn, qname, qtype, edns, do, payload))
            rk = normalize(ask(pk, qname, qtype, edns, do, payload))
            total += 1
            if rt == rn or rt == rk:
                same += 1
            else:
                diffs.append((qname, qtype, edns, do, rt, rn, rk))
        for d in diffs[:25]:
            print(f'DIFF {d[0]} {d[1]} edns={d[2]} do={d[3]}\n  tldd {d[4]}\n  nsd  {d[5]}\n  knot {d[6]}')
        ratio = same / total if total else 0
        print(f'{same}/{total} answers identical to NSD or Knot ({100 * ratio:.3f}%)')
        return 0 if ratio >= 0.999 else 1
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
