#!/usr/bin/python3
"""RFC 2136 / TSIG client for the update tests (dnspython).

usage:
  update_tool.py send ADDR PORT KEYSPEC OPS_JSON [--skew S] [--tcp]
      KEYSPEC is ALG:NAME:SECRET or "-" (unsigned). OPS_JSON is a list of
      ["add", name, ttl, type, rdata] | ["delete", name] |
      ["delete", name, type] | ["delete", name, type, rdata] |
      ["present", name] | ["present", name, type] | ["present", name, type, rdata] |
      ["absent", name] | ["absent", name, type]
      Prints {"rcode": "...", "tsig_error": N, "signed_ok": bool}.
  update_tool.py replay ADDR PORT KEYSPEC OPS_JSON
      Sends the very same signed packet twice; prints both answers.
  update_tool.py fuzz ADDR PORT KEYSPEC N
      Sends N mutated/truncated signed updates, then a normal query;
      prints {"answered": bool}.
  update_tool.py load ADDR PORT KEYSPEC SECONDS RATE INFLIGHT
      Load generator: mixed add (NS+DS+glue) / change (DS, NS) / delete of
      delegations at RATE updates/s with at most INFLIGHT outstanding,
      for SECONDS. Every 20th acknowledged add is queried right after its
      acknowledgement (must be visible). Prints acked/s and latency
      percentiles (send -> acknowledgement) as JSON.
  update_tool.py stream ADDR_FILE KEYSPEC PREFIX START
      Crash-test client: adds delegation PREFIX<i>.shop. (NS + DS + glue)
      for i = START, START+1, ... forever; prints "ACK i" after each
      NOERROR. The server address is re-read from ADDR_FILE ("ip port")
      after every failure, so the server may restart on another port.
"""
import json, random, socket, struct, sys, time
import dns.message, dns.name, dns.query, dns.rcode, dns.rdata, dns.rdataclass
import dns.rdatatype, dns.tsig, dns.tsigkeyring, dns.update, dns.wire


def keyring(spec):
    if spec == '-':
        return None, None, None
    alg, name, secret = spec.split(':', 2)
    kr = dns.tsigkeyring.from_text({name: (alg, secret)})
    return kr, name, alg


def build(ops, spec):
    kr, name, alg = keyring(spec)
    u = dns.update.UpdateMessage('shop.')
    for op in ops:
        kind, owner = op[0], op[1]
        if kind == 'add':
            u.add(owner, op[2], op[3], op[4])
        elif kind == 'delete':
            u.delete(owner, *op[2:])
        elif kind == 'present':
            if len(op) == 4:
                rd = dns.rdata.from_text('IN', op[2], op[3])
                u.present(owner, rd)
            else:
                u.present(owner, *op[2:])
        elif kind == 'absent':
            u.absent(owner, *op[2:])
    if kr:
        u.use_tsig(kr, keyname=name, algorithm=alg)
    return u, kr


def tsig_of(wire):
    """(start, owner, rdata) of the TSIG RR at the end of `wire`, or None."""
    p = dns.wire.Parser(wire, 12)
    qd, an, ns, ar = struct.unpack('!HHHH', wire[4:12])
    for _ in range(qd):
        p.get_name(); p.get_struct('!HH')
    last = None
    for _ in range(an + ns + ar):
        start = p.current
        owner = p.get_name()
        t, c, ttl, rl = p.get_struct('!HHIH')
        with p.restrict_to(rl):
            if t == dns.rdatatype.TSIG:
                rd = dns.rdata.from_wire_parser(c, t, p)
            else:
                p.get_bytes(rl)
                rd = None
        last = (start, owner, t, rd)
    if last and last[2] == dns.rdatatype.TSIG:
        return last[0], last[1], last[3]
    return None


def check(resp, u, kr):
    """Decodes an answer; verifies its TSIG by hand (also for BADTIME)."""
    out = {'rcode': dns.rcode.to_text(resp[3] & 0xf), 'tsig_error': None, 'signed_ok': None}
    t = tsig_of(resp)
    if t is None:
        return out
    start, owner, rd = t
    out['tsig_error'] = rd.error
    if not rd.mac:
        out['signed_ok'] = False
        return out
    key = kr[owner]
    ar = struct.unpack('!H', resp[10:12])[0] - 1
    new = resp[0:10] + struct.pack('!H', ar) + resp[12:start]
    ctx = dns.tsig._digest(new, key, rd, None, u.mac, None, False)
    try:
        ctx.verify(rd.mac)
        out['signed_ok'] = True
    except Exception:
        out['signed_ok'] = False
    return out


def exchange(addr, port, wire, tcp=False, timeout=3):
    if tcp:
        s = socket.create_connection((addr, port), timeout=timeout)
        s.sendall(struct.pack('!H', len(wire)) + wire)
        n = struct.unpack('!H', recvn(s, 2))[0]
        r = recvn(s, n)
        s.close()
        return r
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(wire, (addr, port))
    r, _ = s.recvfrom(65535)
    s.close()
    return r


def recvn(s, n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def main():
    cmd = sys.argv[1]
    if cmd in ('send', 'replay'):
        addr, port, spec, ops = sys.argv[2], int(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
        skew = 0
        if '--skew' in sys.argv:
            skew = int(sys.argv[sys.argv.index('--skew') + 1])
        real = time.time
        time.time = lambda: real() + skew
        u, kr = build(ops, spec)
        wire = u.to_wire()
        time.time = real
        tcp = '--tcp' in sys.argv
        answers = [check(exchange(addr, port, wire, tcp), u, kr)]
        if cmd == 'replay':
            answers.append(check(exchange(addr, port, wire, tcp), u, kr))
        print(json.dumps(answers if cmd == 'replay' else answers[0]))
    elif cmd == 'fuzz':
        addr, port, spec, n = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
        rnd = random.Random(7)
        u, kr = build([['add', 'fz.shop.', 60, 'NS', 'ns.example.'],
                       ['present', 'fz.shop.'], ['delete', 'fz.shop.', 'DS']], spec)
        base = bytearray(u.to_wire())
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(n):
            w = bytearray(base)
            for _ in range(rnd.randint(1, 4)):
                w[rnd.randrange(len(w))] = rnd.randrange(256)
            if rnd.random() < 0.3:
                w = w[:rnd.randrange(len(w))]
            if len(w) >= 3 and rnd.random() < 0.5:
                w[2] = (w[2] & 0x87) | 0x28  # keep it an UPDATE
            s.sendto(bytes(w), (addr, port))
        q = dns.message.make_query('shop.', 'SOA')
        try:
            dns.query.udp(q, addr, port=port, timeout=3)
            print(json.dumps({'answered': True}))
        except Exception as e:
            print(json.dumps({'answered': False, 'error': str(e)}))
    elif cmd == 'load':
        load(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]),
             float(sys.argv[6]), int(sys.argv[7]))
    elif cmd == 'stream':
        addr_file, spec, prefix, i = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
        while True:
            n = f'{prefix}{i}'
            ops = [['add', f'{n}.shop.', 3600, 'NS', f'ns1.{n}.shop.'],
                   ['add', f'ns1.{n}.shop.', 3600, 'A', f'192.0.2.{i % 250 + 1}'],
                   ['add', f'{n}.shop.', 3600, 'DS', f'{i % 65535} 13 2 ' + '%064X' % i]]
            try:
                addr, port = open(addr_file).read().split()
                u, kr = build(ops, spec)
                r = check(exchange(addr, int(port), u.to_wire(), timeout=1), u, kr)
                if r['rcode'] == 'NOERROR' and r['signed_ok']:
                    print(f'ACK {i}', flush=True)
                    i += 1
                else:
                    print(f'NAK {i} {r}', flush=True)
                    time.sleep(0.05)
            except Exception:
                time.sleep(0.05)


def load(addr, port, spec, seconds, rate, inflight):
    import asyncio
    kr, _, _ = keyring(spec)
    rnd = random.Random(1)
    pool = []          # acknowledged, existing delegations
    pending = {}       # id -> (t0, kind, name, msg)
    lat = []
    counts = {'add': 0, 'change': 0, 'delete': 0, 'errors': 0, 'timeouts': 0,
              'visible_checked': 0, 'not_visible': 0}
    seq = [0]
    tag = '%x' % rnd.getrandbits(24)

    def make():
        r = rnd.random()
        if r < 0.5 or len(pool) < 50:
            seq[0] += 1
            n = f'ld{tag}-{seq[0]}'
            ops = [['add', f'{n}.shop.', 3600, 'NS', f'ns1.{n}.shop.'],
                   ['add', f'{n}.shop.', 3600, 'NS', 'ns2.example.'],
                   ['add', f'ns1.{n}.shop.', 3600, 'A', f'192.0.2.{seq[0] % 250 + 1}'],
                   ['add', f'{n}.shop.', 3600, 'DS', f'{seq[0] % 65535} 13 2 ' + '%064X' % seq[0]]]
            return 'add', n, ops
        n = pool.pop(rnd.randrange(len(pool)))
        if r < 0.75:
            v = rnd.getrandbits(32)
            ops = [['delete', f'{n}.shop.', 'DS'],
                   ['add', f'{n}.shop.', 3600, 'DS', f'{v % 65535} 13 2 ' + '%064X' % v],
                   ['delete', f'{n}.shop.', 'NS', 'ns2.example.'],
                   ['add', f'{n}.shop.', 3600, 'NS', f'ns{v % 9}.example.']]
            return 'change', n, ops
        return 'delete', n, [['delete', f'{n}.shop.'], ['delete', f'ns1.{n}.shop.']]

    class Proto(asyncio.DatagramProtocol):
        def connection_made(self, t):
            self.t = t

        def datagram_received(self, data, a):
            if len(data) < 12:
                return
            qid = struct.unpack('!H', data[:2])[0]
            if data[2] & 0x78 == 0:   # a query answer (visibility check)
                p = pending.pop(qid, None)
                if p is not None:
                    counts['visible_checked'] += 1
                    if struct.unpack('!H', data[8:10])[0] == 0:
                        counts['not_visible'] += 1
                return
            p = pending.pop(qid, None)
            if p is None:
                return
            t0, kind, n, msg = p
            if kind == 'check':
                return
            if data[3] & 0xf == 0:
                lat.append(time.perf_counter() - t0)
                counts[kind] += 1
                if kind != 'delete':
                    pool.append(n)
                if kind == 'add' and counts['add'] % 20 == 0:
                    q = dns.message.make_query(f'x.{n}.shop.', 'A')
                    q.flags = 0
                    pending[q.id] = (time.perf_counter(), 'check', n, None)
                    self.t.sendto(q.to_wire(), (addr, port))
            else:
                counts['errors'] += 1

    async def run():
        loop = asyncio.get_running_loop()
        t, proto = await loop.create_datagram_endpoint(Proto, remote_addr=(addr, port))
        start = time.perf_counter()
        sent = 0
        while time.perf_counter() - start < seconds:
            due = int((time.perf_counter() - start) * rate)
            now = time.perf_counter()
            for k, v in list(pending.items()):
                if now - v[0] > 5:
                    del pending[k]
                    counts['timeouts'] += 1
            while sent < due and len(pending) < inflight:
                kind, n, ops = make()
                u, _ = build(ops, spec)
                while u.id in pending:
                    u.id = rnd.getrandbits(16)
                    u, _ = build(ops, spec)
                pending[u.id] = (time.perf_counter(), kind, n, u)
                t.sendto(u.to_wire())
                sent += 1
            await asyncio.sleep(0.001)
        end = time.perf_counter()
        await asyncio.sleep(2)
        t.close()
        return sent, end - start

    sent, elapsed = asyncio.run(run())
    lat.sort()
    pct = lambda p: round(lat[min(len(lat) - 1, int(len(lat) * p))] * 1000, 2) if lat else None
    acked = counts['add'] + counts['change'] + counts['delete']
    print(json.dumps({'sent': sent, 'acked': acked, 'acked_per_s': round(acked / elapsed, 1),
                      'p50_ms': pct(0.5), 'p99_ms': pct(0.99), 'max_ms': pct(1.0), **counts}))


if __name__ == '__main__':
    main()
