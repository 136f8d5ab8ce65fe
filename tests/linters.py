#!/usr/bin/python3
"""Zonemaster and DNSViz on tldd, NSD and Knot serving one signed TLD zone.

usage: linters.py TLDD_BIN [--signer bind|tldd]

A hand-written TLD zone (two name servers, an MX, glue, a signed and an
unsigned delegation) is signed with BIND's dnssec-signzone or with `tldd
sign` (NSEC3, opt-out; soft keys from `tldd keys generate`, the DS from
`tldd keys ds`) and served in turn by tldd, NSD and Knot on 127.0.0.11 and
127.0.0.12, port 53 (Zonemaster and DNSViz only speak to port 53). NSD on
127.0.0.10 serves a root zone that delegates the TLD with its DS, named in
a local root hints file, so nothing leaves the machine.

For each server:
- `zonemaster-cli` runs the undelegated test (--ns NAME/IP, --ds, --hints,
  --no-ipv6) and its messages at NOTICE and above are kept;
- `dnsviz probe -A` (authoritative servers, delegation and DS given) and
  `dnsviz grok` report errors and warnings.

Every message tldd gets must also be given to NSD or Knot (the loopback
addresses and the missing PTRs, say, are given to all three). Exits 1 and
prints the extra messages otherwise. Needs zonemaster-cli, dnsviz, bind9
(dnsviz -N runs named-checkconf), bind9-utils, nsd, knot.
"""
import json, os, shutil, signal, subprocess, sys, tempfile, time
import dns.message, dns.query

ORIGIN = 'shop'
NS = [('ns1.nic.shop', '127.0.0.11'), ('ns2.nic.shop', '127.0.0.12')]
ROOT = '127.0.0.10'
ZONE = f'''$ORIGIN shop.
$TTL 3600
@ 3600 IN SOA ns1.nic.shop. hostmaster.nic.shop. 2026120301 14400 3600 1209600 3600
@ 3600 IN NS ns1.nic.shop.
@ 3600 IN NS ns2.nic.shop.
ns1.nic 3600 IN A {NS[0][1]}
ns2.nic 3600 IN A {NS[1][1]}
nic 3600 IN A 127.0.0.13
nic 3600 IN MX 10 mail.nic.shop.
mail.nic 3600 IN A 127.0.0.14
example 3600 IN NS ns1.example.shop.
example 3600 IN NS ns2.example.shop.
ns1.example 3600 IN A 127.0.0.21
ns2.example 3600 IN A 127.0.0.22
signed 3600 IN NS ns1.elsewhere.example.
signed 3600 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
'''


def wait_ready(proc, name):
    end = time.time() + 60
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f'{name} exited with {proc.returncode}')
        try:
            ok = all(dns.query.udp(dns.message.make_query(f'{ORIGIN}.', 'SOA'), ip, timeout=0.5).answer
                     for _, ip in NS)
            if ok:
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit(f'{name} did not answer SOA on {NS}')


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def nsd_conf(d, addrs, zone_name, zone_file):
    ips = ''.join(f'    ip-address: {a}@53\n' for a in addrs)
    return f'''server:
{ips}    server-count: 1
    username: ""
    chroot: ""
    database: ""
    pidfile: {d}/nsd.pid
    xfrdfile: {d}/xfrd.state
    zonelistfile: {d}/zone.list
remote-control:
    control-enable: no
zone:
    name: {zone_name}
    zonefile: {zone_file}
'''


def zonemaster(ds):
    cmd = ['zonemaster-cli', '--raw', '--level', 'NOTICE', '--no-ipv6', '--hints', HINTS]
    for n, ip in NS:
        cmd += ['--ns', f'{n}/{ip}']
    for d in ds:
        cmd += ['--ds', d]
    out = subprocess.run(cmd + [ORIGIN], capture_output=True, text=True, timeout=600)
    msgs = set()
    for line in out.stdout.splitlines():
        f = line.split(None, 1)
        # "SECONDS LEVEL TAG args": the seconds differ from run to run.
        if len(f) == 2 and f[0].replace('.', '').isdigit():
            msgs.add('zonemaster ' + f[1])
    if out.returncode != 0 and not msgs:
        raise SystemExit(f'zonemaster-cli failed: {out.stderr}')
    return msgs


def dnsviz(work, ds_file):
    servers = ','.join(f'{n}={ip}' for n, ip in NS)
    probe = subprocess.run(['dnsviz', 'probe', '-A', '-x', f'{ORIGIN}:{servers}', '-N', f'{ORIGIN}:{servers}',
                            '-D', f'{ORIGIN}:{ds_file}', ORIGIN], capture_output=True, timeout=600)
    if probe.returncode != 0:
        raise SystemExit(f'dnsviz probe failed: {probe.stderr.decode()}')
    grok = subprocess.run(['dnsviz', 'grok', '-P', '-l', 'info'], input=probe.stdout, capture_output=True,
                          timeout=600)
    if grok.returncode != 0:
        raise SystemExit(f'dnsviz grok failed: {grok.stderr.decode()}')
    msgs = set()

    def walk(o, path):
        if isinstance(o, dict):
            for k, v in o.items():
                if k in ('errors', 'warnings'):
                    for e in v:
                        msgs.add(f'dnsviz {k[:-1]} {path} {e.get("code")}: {e.get("description")}')
                else:
                    walk(v, f'{path}/{k}')
        elif isinstance(o, list):
            for x in o:
                walk(x, path)
    walk(json.loads(grok.stdout or b'{}'), '')
    return msgs


def main():
    global HINTS
    tldd = os.path.abspath(sys.argv[1])
    signer = sys.argv[sys.argv.index('--signer') + 1] if '--signer' in sys.argv else 'bind'
    work = tempfile.mkdtemp(prefix='tldd-lint-')
    procs = []
    try:
        open(f'{work}/shop.zone', 'w').write(ZONE)
        keys = f'{work}/keys'
        os.makedirs(keys)
        if signer == 'bind':
            ksk = subprocess.run(['dnssec-keygen', '-q', '-K', keys, '-a', '13', '-f', 'KSK', ORIGIN],
                                 check=True, capture_output=True, text=True).stdout.strip()
            subprocess.run(['dnssec-keygen', '-q', '-K', keys, '-a', '13', ORIGIN], check=True,
                           capture_output=True)
            subprocess.run(['dnssec-signzone', '-q', '-S', '-K', keys, '-d', keys, '-3', '-', '-H', '0', '-A', '-o', ORIGIN,
                            '-f', f'{work}/signed.zone', f'{work}/shop.zone'], check=True, capture_output=True)
            ds_text = subprocess.run(['dnssec-dsfromkey', '-2', f'{keys}/{ksk}.key'], check=True,
                                     capture_output=True, text=True).stdout
        else:
            cfg = f'{keys}/sign.toml'
            open(cfg, 'w').write(f'[server]\nlisten = ["127.0.0.1:0"]\ndata_dir = "{keys}/data"\n'
                                 f'[[zone]]\norigin = "{ORIGIN}."\nfile = "{work}/shop.zone"\n'
                                 f'[zone.dnssec]\nkeystore = "soft"\nnsec3_opt_out = true\n')
            env = dict(os.environ, TLDD_OPERATOR='linters')
            run = lambda *a: subprocess.run([tldd, *a], check=True, capture_output=True, text=True,
                                            env=env).stdout
            for role in ('ksk', 'zsk'):
                run('keys', '-c', cfg, 'generate', '--zone', f'{ORIGIN}.', '--role', role)
            run('sign', '-c', cfg, '--zone', f'{ORIGIN}.', '--out', f'{work}/signed.zone')
            ds_text = run('keys', '-c', cfg, 'ds', '--zone', f'{ORIGIN}.')
        open(f'{work}/ds.txt', 'w').write(ds_text)
        ds = [','.join(f[f.index('DS') + 1:f.index('DS') + 5])
              for f in (l.split() for l in ds_text.splitlines()) if 'DS' in f]
        glue = ''.join(f'{n}. A {ip}\n' for n, ip in NS)
        deleg = ''.join(f'{ORIGIN}. NS {n}.\n' for n, _ in NS)
        open(f'{work}/root.zone', 'w').write(
            f'$TTL 86400\n. SOA a.root.test. h.root.test. 1 1800 900 604800 86400\n. NS a.root.test.\n'
            f'a.root.test. A {ROOT}\n{deleg}{glue}{ds_text}')
        HINTS = f'{work}/hints.zone'
        open(HINTS, 'w').write(f'. 3600000 NS a.root.test.\na.root.test. 3600000 A {ROOT}\n')
        os.makedirs(f'{work}/root')
        open(f'{work}/root/nsd.conf', 'w').write(nsd_conf(f'{work}/root', [ROOT], '.', f'{work}/root.zone'))
        root = subprocess.Popen(['nsd', '-d', '-c', f'{work}/root/nsd.conf'], stdout=subprocess.DEVNULL,
                                stderr=open(f'{work}/root.log', 'w'))
        procs.append(root)
        addrs = [ip for _, ip in NS]
        zone = f'{work}/signed.zone'
        results = {}
        for name in ('tldd', 'nsd', 'knot'):
            d = f'{work}/{name}'
            os.makedirs(d)
            if name == 'tldd':
                listen = ', '.join(f'"{a}:53"' for a in addrs)
                open(f'{d}/tldd.toml', 'w').write(
                    f'[server]\nlisten = [{listen}]\ndata_dir = "{d}/data"\nudp_workers = 1\n'
                    f'[[zone]]\norigin = "{ORIGIN}."\nfile = "{zone}"\n')
                cmd = [tldd, 'serve', '-c', f'{d}/tldd.toml']
            elif name == 'nsd':
                open(f'{d}/nsd.conf', 'w').write(nsd_conf(d, addrs, ORIGIN, zone))
                cmd = ['nsd', '-d', '-c', f'{d}/nsd.conf']
            else:
                listen = ''.join(f'    listen: {a}@53\n' for a in addrs)
                open(f'{d}/knot.conf', 'w').write(
                    f'server:\n{listen}    rundir: {d}\ndatabase:\n    storage: {d}\n'
                    f'zone:\n  - domain: {ORIGIN}\n    file: {zone}\n    journal-content: none\n'
                    f'    zonefile-sync: -1\n')
                cmd = ['knotd', '-c', f'{d}/knot.conf']
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(f'{d}.log', 'w'))
            procs.append(p)
            wait_ready(p, name)
            results[name] = zonemaster(ds) | dnsviz(work, f'{work}/ds.txt')
            stop(p)
            procs.remove(p)
            print(f'{name}: {len(results[name])} messages')
            for m in sorted(results[name]):
                print(f'  {m}')
        extra = results['tldd'] - results['nsd'] - results['knot']
        for m in sorted(extra):
            print(f'ONLY TLDD {m}')
        print(f'{len(extra)} messages for tldd that neither NSD nor Knot gets')
        return 1 if extra else 0
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
