#!/usr/bin/python3
"""RFC 2136 / TSIG client for the update tests (dnspython).

usage:
  update_tool.py send ADDR PORT KEYSPEC OPS_JSON [--skew S] [--tcp] [--edns]
      KEYSPEC is ALG:NAME:SECRET or "-" (unsigned). OPS_JSON is a list of
      ["add", name, ttl, type, rdata] | ["delete", name] |
      ["delete", name, type] | ["delete", name, type, rdata] |
      ["present", name] | ["present", name, type] | ["present", name, type, rdata] |
      ["absent", name] | ["absent", name, type]
      Prints {"rcode": "...", "tsig_error": N, "signed_ok": bool}; with
      --edns the request has an OPT record and "ede" lists the answer's
      Extended DNS Errors as [info_code, extra_text].
  update_tool.py replay ADDR PORT KEYSPEC OPS_JSON
      Sends the very same signed packet twice; prints both answers.
  update_tool.py sign KEYSPEC OPS_JSON [--fudge F] [--skew S]
      Builds and signs an UPDATE (TSIG fudge F, default 300; clock skewed
      by S seconds) without sending it; prints {"wire": hex, "time": T}
      (T the time signed), for tests that capture and resend the bytes.
  update_tool.py sendraw ADDR PORT GAP HEX...
      Sends each hex-encoded message over UDP, each from its own socket,
      GAP seconds apart, then waits for all answers (up to 15 s); prints
      [{"rcode": "...", "tsig_error": N, "answer": hex}] (null: no answer).
  update_tool.py fuzz ADDR PORT KEYSPEC N
      Sends N mutated/truncated signed updates, then a normal query;
      prints {"answered": bool}.
  update_tool.py load ADDR PORT KEYSPEC SECONDS RATE INFLIGHT [XFR_KEYSPEC]
      Load generator: mixed add (NS+DS+glue) / change (DS, NS) / delete of
      delegations at RATE updates/s with at most INFLIGHT outstanding,
      for SECONDS; the signed messages are built before the clock starts.
      Every 20th acknowledged add is queried (DS, DO=1) right after its
      acknowledgement: it must be there with its RRSIG (visible_* is send
      -> that answer). With XFR_KEYSPEC, every 100th acknowledged add is
      looked for in an IXFR (kdig) from the serial served before it was
      sent, asked right after the acknowledgement (ixfr_* is send -> ack
      plus the IXFR's round trip as kdig reports it; ixfr_wall_* is send
      -> kdig's exit, its process start included). Prints acked/s and latency
      percentiles (send -> acknowledgement) as JSON.
  update_tool.py stream ADDR_FILE KEYSPEC PREFIX START
      Crash-test client: adds delegation PREFIX<i>.shop. (NS + DS + glue)
      for i = START, START+1, ... forever; prints "ACK i" after each
      NOERROR. The server address is re-read from ADDR_FILE ("ip port")
      after every failure, so the server may restart on another port.
"""
import json, random, socket, struct, sys, time
import dns.message, dns.name, dns.query, dns.rcode, dns.rdata, dns.rdataclass
import dns.rdatatype, dns.rrset, dns.tsig, dns.tsigkeyring, dns.update, dns.wire


def keyring(spec):
    if spec == '-':
        return None, None, None
    alg, name, secret = spec.split(':', 2)
    kr = dns.tsigkeyring.from_text({name: (alg, secret)})
    return kr, name, alg


def build(ops, spec, qid=None, edns=False):
    kr, name, alg = keyring(spec)
    u = dns.update.UpdateMessage('shop.', id=qid)
    if edns:
        u.use_edns(0, payload=1232)
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


def ede_of(wire):
    """[[info_code, extra_text]] of the EDE options (RFC 8914) in an answer."""
    t = tsig_of(wire)
    if t is not None:  # parsed without its TSIG (check() verifies that)
        ar = struct.unpack('!H', wire[10:12])[0] - 1
        wire = wire[0:10] + struct.pack('!H', ar) + wire[12:t[0]]
    m = dns.message.from_wire(wire)
    out = []
    for o in m.options:
        if o.otype == 15:
            code = getattr(o, 'code', None)
            text = getattr(o, 'text', None)
            if code is None:  # an older dnspython: the raw option
                raw = o.to_wire() if hasattr(o, 'to_wire') else o.data
                code, text = struct.unpack('!H', raw[:2])[0], raw[2:].decode()
            out.append([int(code), text or ''])
    return out


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
        u, kr = build(ops, spec, edns='--edns' in sys.argv)
        wire = u.to_wire()
        time.time = real
        tcp = '--tcp' in sys.argv
        resp = exchange(addr, port, wire, tcp)
        answers = [check(resp, u, kr)]
        if '--edns' in sys.argv:
            answers[0]['ede'] = ede_of(resp)
        if cmd == 'replay':
            answers.append(check(exchange(addr, port, wire, tcp), u, kr))
        print(json.dumps(answers if cmd == 'replay' else answers[0]))
    elif cmd == 'sign':
        spec, ops = sys.argv[2], json.loads(sys.argv[3])
        fudge = int(sys.argv[sys.argv.index('--fudge') + 1]) if '--fudge' in sys.argv else 300
        skew = int(sys.argv[sys.argv.index('--skew') + 1]) if '--skew' in sys.argv else 0
        real = time.time
        time.time = lambda: real() + skew
        u, kr = build(ops, spec)
        _, name, alg = keyring(spec)
        u.use_tsig(kr, keyname=name, algorithm=alg, fudge=fudge)
        wire = u.to_wire()
        time.time = real
        print(json.dumps({'wire': wire.hex(), 'time': tsig_of(wire)[2].time_signed}))
    elif cmd == 'sendraw':
        addr, port, gap = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        socks = []
        for i, h in enumerate(sys.argv[5:]):
            if i:
                time.sleep(gap)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(bytes.fromhex(h), (addr, port))
            socks.append(s)
        deadline = time.time() + 15
        out = []
        for s in socks:
            s.settimeout(max(0.1, deadline - time.time()))
            try:
                r, _ = s.recvfrom(65535)
            except socket.timeout:
                out.append(None)
                continue
            t = tsig_of(r)
            out.append({'rcode': dns.rcode.to_text(r[3] & 0xf),
                        'tsig_error': t[2].error if t else None, 'answer': r.hex()})
            s.close()
        print(json.dumps(out))
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
             float(sys.argv[6]), int(sys.argv[7]), sys.argv[8] if len(sys.argv) > 8 else None)
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


def plan(spec, seconds, rate):
    """The whole run's UPDATE messages, TSIG-signed in advance (well
    inside the 300 s fudge), so that sending costs the client almost
    nothing: [(kind, name, wire, mac)]. A change or delete picks a name
    added (or changed) at least two seconds of traffic earlier, by which
    time it has long been acknowledged."""
    rnd = random.Random()
    tag = '%x' % rnd.getrandbits(24)
    lag = int(2 * rate)
    ready, waiting, out = [], [], []
    seq = 0
    for i in range(int(seconds * rate)):
        while waiting and waiting[0][0] <= i:
            ready.append(waiting.pop(0)[1])
        r = rnd.random()
        if r < 0.5 or len(ready) < 50:
            seq += 1
            n = f'ld{tag}-{seq}'
            ops = [['add', f'{n}.shop.', 3600, 'NS', f'ns1.{n}.shop.'],
                   ['add', f'{n}.shop.', 3600, 'NS', 'ns2.example.'],
                   ['add', f'ns1.{n}.shop.', 3600, 'A', f'192.0.2.{seq % 250 + 1}'],
                   ['add', f'{n}.shop.', 3600, 'DS', f'{seq % 65535} 13 2 ' + '%064X' % seq]]
            kind = 'add'
            waiting.append((i + lag, n))
        else:
            n = ready.pop(rnd.randrange(len(ready)))
            if r < 0.75:
                v = rnd.getrandbits(32)
                ops = [['delete', f'{n}.shop.', 'DS'],
                       ['add', f'{n}.shop.', 3600, 'DS', f'{v % 65535} 13 2 ' + '%064X' % v],
                       ['delete', f'{n}.shop.', 'NS', 'ns2.example.'],
                       ['add', f'{n}.shop.', 3600, 'NS', f'ns{v % 9}.example.']]
                kind = 'change'
                waiting.append((i + lag, n))
            else:
                ops = [['delete', f'{n}.shop.'], ['delete', f'ns1.{n}.shop.']]
                kind = 'delete'
        u, _ = build(ops, spec, i & 0xffff)
        out.append((kind, n, u.to_wire()))
    return out


def soa_serial(addr, port):
    q = dns.message.make_query('shop.', 'SOA')
    r = dns.query.udp(q, addr, port=port, timeout=2)
    return r.answer[0][0].serial


def ixfr_has(addr, port, xfr_spec, serial, name):
    """(found, seconds): whether an IXFR from `serial` adds `name`'s DS, and
    the transfer's own duration as kdig reports it (request sent to last
    message received, without kdig's process start). Asked with Knot's
    kdig (a separate process, so the GIL of this one does not time it)."""
    import re, subprocess
    cmd = ['kdig', f'@{addr}', '-p', str(port), '+tcp', '+noall', '+answer', '+stats',
           'shop.', f'IXFR={serial}']
    if xfr_spec != '-':
        cmd[1:1] = ['-y', xfr_spec]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    want = f'{name}.shop.'
    found = any(l.split()[:1] == [want] and '\tDS\t' in l for l in out.splitlines())
    took = re.search(r'\(TCP\) in ([0-9.]+) ms', out)
    return found, float(took.group(1)) / 1000 if took else None


def load(addr, port, spec, seconds, rate, inflight, xfr_spec=None):
    import asyncio, threading
    t_plan = time.perf_counter()
    msgs = plan(spec, seconds, rate)
    t_plan = time.perf_counter() - t_plan
    pending = {}       # id -> (t0, kind, name, serial before send)
    lat, vis, ixfr, ixfr_wall = [], [], [], []
    counts = {'add': 0, 'change': 0, 'delete': 0, 'errors': 0, 'timeouts': 0,
              'visible_checked': 0, 'not_visible': 0, 'ixfr_checked': 0, 'ixfr_missing': 0}
    serial = [soa_serial(addr, port)]
    done = [False]

    def poll_serial():
        # The serial before an update was sent: its version is newer, so an
        # IXFR from it must carry the update.
        while not done[0]:
            try:
                serial[0] = soa_serial(addr, port)
            except Exception:
                pass
            time.sleep(0.02)

    def ixfr_check(t0, t_ack, n, s0):
        # Asked right after the acknowledgement: send -> ack, plus the
        # IXFR's own round trip, is send -> visible in IXFR. The wall time
        # to kdig's exit (process start included) is reported beside it.
        try:
            ok, took = ixfr_has(addr, port, xfr_spec, s0, n)
        except Exception:
            ok, took = False, None
        counts['ixfr_checked'] += 1
        if ok and took is not None:
            ixfr.append(t_ack - t0 + took)
            ixfr_wall.append(time.perf_counter() - t0)
        else:
            counts['ixfr_missing'] += 1

    class Proto(asyncio.DatagramProtocol):
        def connection_made(self, t):
            self.t = t

        def datagram_received(self, data, a):
            if len(data) < 12:
                return
            qid = struct.unpack('!H', data[:2])[0]
            if data[2] & 0x78 == 0:   # a query answer (visibility check)
                p = pending.pop(('q', qid), None)
                if p is not None:
                    counts['visible_checked'] += 1
                    # DS and its RRSIG in the answer (DO=1).
                    if struct.unpack('!H', data[6:8])[0] < 2:
                        counts['not_visible'] += 1
                    else:
                        vis.append(time.perf_counter() - p[0])
                return
            p = pending.pop(qid, None)
            if p is None:
                return
            t0, kind, n, s0 = p
            if data[3] & 0xf == 0:
                t_ack = time.perf_counter()
                lat.append(t_ack - t0)
                counts[kind] += 1
                if kind == 'add' and counts['add'] % 20 == 0:
                    q = dns.message.make_query(f'{n}.shop.', 'DS', want_dnssec=True)
                    q.id = rnd_id[0] = (rnd_id[0] + 1) & 0xffff
                    pending[('q', q.id)] = (t0, 'check', n, s0)
                    self.t.sendto(q.to_wire())
                if xfr_spec and kind == 'add' and counts['add'] % 100 == 0:
                    threading.Thread(target=ixfr_check, args=(t0, t_ack, n, s0), daemon=True).start()
            else:
                counts['errors'] += 1

    rnd_id = [0]

    async def run():
        loop = asyncio.get_running_loop()
        t, proto = await loop.create_datagram_endpoint(Proto, remote_addr=(addr, port))
        start = time.perf_counter()
        sent = 0
        while time.perf_counter() - start < seconds and sent < len(msgs):
            due = int((time.perf_counter() - start) * rate)
            now = time.perf_counter()
            for k, v in list(pending.items()):
                if now - v[0] > 5:
                    del pending[k]
                    counts['timeouts'] += 1
            while sent < due and sent < len(msgs) and len(pending) < inflight:
                kind, n, wire = msgs[sent]
                qid = struct.unpack('!H', wire[:2])[0]
                if qid in pending:
                    break
                pending[qid] = (time.perf_counter(), kind, n, serial[0])
                t.sendto(wire)
                sent += 1
            await asyncio.sleep(0.001)
        end = time.perf_counter()
        await asyncio.sleep(3)
        t.close()
        return sent, end - start

    threading.Thread(target=poll_serial, daemon=True).start()
    sent, elapsed = asyncio.run(run())
    done[0] = True

    def pct(xs, p):
        xs = sorted(xs)
        return round(xs[min(len(xs) - 1, int(len(xs) * p))] * 1000, 2) if xs else None
    acked = counts['add'] + counts['change'] + counts['delete']
    print(json.dumps({'sent': sent, 'acked': acked, 'acked_per_s': round(acked / elapsed, 1),
                      'plan_s': round(t_plan, 1),
                      'p50_ms': pct(lat, 0.5), 'p99_ms': pct(lat, 0.99), 'max_ms': pct(lat, 1.0),
                      'visible_p50_ms': pct(vis, 0.5), 'visible_p99_ms': pct(vis, 0.99),
                      'ixfr_p50_ms': pct(ixfr, 0.5), 'ixfr_p99_ms': pct(ixfr, 0.99),
                      'ixfr_wall_p50_ms': pct(ixfr_wall, 0.5),
                      'ixfr_wall_p99_ms': pct(ixfr_wall, 0.99),
                      **counts}))


if __name__ == '__main__':
    main()
