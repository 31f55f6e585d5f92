#!/usr/bin/env python3
"""Helpers for tests/ansible/run: check sandbox host roots with ptrec, time the bare binary, and
summarise the task timings recorded by callback_plugins/ptrec_timing.py.

  hostcheck.py state ROOT BDF.driver=NAME BDF.num_vfs=N ...   devices of ROOT as `ptrec show --json` sees them
  hostcheck.py fleet MANIFEST EXAMPLES                        every fleet host matches its group's desired state
  hostcheck.py bare-apply SPEC DESIRED WORKDIR N              median seconds of N bare `ptrec apply` runs
  hostcheck.py timing LOG FLEET_LOG BARE_SECONDS FLEET_WALL FLEET_HOSTS   prints the timing figures
  hostcheck.py desired-of INVENTORY_JSON HOST                 a host's ptrec_desired_state from ansible-inventory --list
  hostcheck.py group-example GROUP                            the example desired state a fleet group mirrors

PTREC_BIN names the ptrec binary. Exit status 0 when every check holds.
"""
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import time

PTREC = os.environ.get('PTREC_BIN', 'ptrec')

# What each fleet group must look like afterwards: the example desired state it mirrors
# (inventory/group_vars/<group>.yml) and device facts from `ptrec show --json`.
FLEET_GROUPS = {
    'sriov_82576': ('82576-vfs.yaml', ['0000:03:00.0.num_vfs=7', '0000:03:10.0.driver=vfio-pci',
                                       '0000:03:11.4.driver=vfio-pci', '0000:03:00.1.num_vfs=4',
                                       '0000:03:10.1.driver=igbvf', '0000:00:19.0.driver=e1000e']),
    'hide_82576': ('82576-hide-port.yaml', ['0000:03:00.1.driver=vfio-pci', '0000:03:00.0.driver=igb',
                                            '0000:03:00.0.num_vfs=0']),
    'bcm5720_hide_group': ('bcm5720-hide-group.yaml', ['0000:02:00.0.driver=vfio-pci', '0000:02:00.1.driver=vfio-pci',
                                                       '0000:01:00.0.driver=igb']),
    'bcm57810_vfs': ('bcm57810-vfs.yaml', ['0000:05:00.0.num_vfs=4', '0000:05:01.0.driver=vfio-pci',
                                           '0000:05:01.3.driver=vfio-pci', '0000:05:00.1.num_vfs=0']),
}


def show(root):
    out = subprocess.run([PTREC, 'show', '--json', '--root', root], check=True, capture_output=True, text=True)
    doc = json.loads(out.stdout)
    return {d['bdf']: d for d in doc['devices']}


def state_problems(root, expectations):
    devices = show(root)
    problems = []
    for expectation in expectations:
        key, want = expectation.split('=', 1)
        bdf, field = key.rsplit('.', 1)
        device = devices.get(bdf)
        if device is None:
            problems.append('%s: no device %s' % (root, bdf))
            continue
        have = (device.get('sriov') or {}).get('num_vfs') if field == 'num_vfs' else device.get(field)
        if str(have) != want:
            problems.append('%s: %s.%s is %r, want %r' % (root, bdf, field, have, want))
    return problems


def plan_rc(root, desired):
    return subprocess.run([PTREC, 'plan', '--json', '-f', desired, '--root', root],
                          capture_output=True, text=True).returncode


def cmd_state(root, *expectations):
    problems = state_problems(root, expectations)
    for p in problems:
        print('  ' + p)
    return 1 if problems else 0


def cmd_fleet(manifest, examples):
    hosts = []
    with open(manifest) as f:
        for line in f:
            if line.strip():
                hosts.append(line.split())

    def check(entry):
        host, group, root = entry
        example, expectations = FLEET_GROUPS[group]
        problems = []
        rc = plan_rc(root, os.path.join(examples, example))
        if rc != 0:
            problems.append('%s: ptrec plan -f examples/%s exits %d, want 0 (no changes)' % (host, example, rc))
        written = os.path.join(root, 'etc/ptrec/desired-state.yaml')
        rc = plan_rc(root, written)
        if rc != 0:
            problems.append('%s: ptrec plan -f %s exits %d, want 0' % (host, written, rc))
        problems += ['%s: %s' % (host, p) for p in state_problems(root, expectations)]
        return host, group, problems

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(check, hosts))
    bad = 0
    per_group = {}
    for host, group, problems in results:
        per_group.setdefault(group, [0, 0])[0 if not problems else 1] += 1
        for p in problems:
            print('  ' + p)
        bad += bool(problems)
    for group, (ok, failed) in sorted(per_group.items()):
        print('  group %-20s %2d host(s) at their desired state, %d not' % (group, ok, failed))
    return 1 if bad else 0


def cmd_bare_apply(spec, desired, workdir, count):
    roots = [os.path.join(workdir, 'bare-%d' % i) for i in range(int(count))]
    for root in roots:
        subprocess.run([PTREC, 'sandbox', 'create', spec, root], check=True, capture_output=True)
    os.sync()  # ptrec fsyncs its state files: do not make it pay for writing the sandboxes
    times = []
    for root in roots:
        start = time.monotonic()
        out = subprocess.run([PTREC, 'apply', '--json', '-f', desired, '--root', root, '--simulate', '--auto-approve'],
                             capture_output=True, text=True)
        times.append(time.monotonic() - start)
        if out.returncode != 0 or not json.loads(out.stdout).get('changed'):
            print('bare apply failed on %s: %s' % (root, out.stderr), file=sys.stderr)
            return 1
    print('%.4f' % statistics.median(times))
    return 0


def cmd_timing(log, fleet_log, bare, fleet_wall, fleet_hosts):
    bare = float(bare)
    fleet_wall = float(fleet_wall)
    fleet_hosts = int(fleet_hosts)

    def rows_of(path):
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    rows = rows_of(log)
    ping = [r['seconds'] for r in rows if r['task'].startswith('Timed ping')]
    module = [r['seconds'] for r in rows if r['task'].startswith('Timed module apply') and r['status'] == 'ok']
    fleet = rows_of(fleet_log)
    fleet_module = [r['seconds'] for r in fleet if r['action'] == 'ptrec.passthrough.ptrec' and r['status'] == 'ok']
    per_host = {}
    for r in fleet:
        per_host[r['host']] = per_host.get(r['host'], 0.0) + r['seconds']
    print('  bare `ptrec apply --json --simulate` (dual-82576, 82576-vfs.yaml, 9 actions), median of 3: %.3f s' % bare)
    if module and ping:
        m = statistics.median(module)
        p = statistics.median(ping)
        print('  module task doing the same apply, one host (median of %d):          %.3f s' % (len(module), m))
        print('  ansible.builtin.ping task, one host (median of %d):                 %.3f s' % (len(ping), p))
        ratio = m / bare if bare else 0.0
        print('  => per-host overhead of the module task over the bare binary: %.3f s (%.1fx the bare apply); '
              "for reference, Ansible's floor for any module task (ping) is %.3f s" % (m - bare, ratio, p))
    if fleet_module:
        print('  module task in the fleet run (%d hosts, in parallel batches): median %.3f s, max %.3f s' % (
            len(fleet_module), statistics.median(fleet_module), max(fleet_module)))
    if per_host:
        print('  whole role per host in the fleet run (sum of its task times): median %.3f s' % (
            statistics.median(per_host.values())))
    per_host_wall = fleet_wall / fleet_hosts
    print('  fleet run wall time: %.1f s for %d hosts = %.2f s per host' % (fleet_wall, fleet_hosts, per_host_wall))
    return 0


def cmd_desired_of(inventory_json, host):
    with open(inventory_json) as f:
        inventory = json.load(f)
    print(json.dumps(inventory['_meta']['hostvars'][host]['ptrec_desired_state'], indent=2))
    return 0


def cmd_group_example(group):
    print(FLEET_GROUPS[group][0])
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    commands = {'state': cmd_state, 'fleet': cmd_fleet, 'bare-apply': cmd_bare_apply, 'timing': cmd_timing,
                'desired-of': cmd_desired_of, 'group-example': cmd_group_example}
    return commands[argv[1]](*argv[2:])


if __name__ == '__main__':
    sys.exit(main(sys.argv))
