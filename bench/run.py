#!/usr/bin/env python3
"""ptrec benchmarks: prints a table of figures. Run through bench/run (which builds first).

P1 plan latency and memory: `ptrec show` and `ptrec plan` on synthetic hosts of ~100, ~500,
~2,000 and ~8,000 PCI functions, beside `lspci -nnk` reading the same tree in the same run.
Medians of several runs; peak RSS per process (wait4 rusage); ratio ptrec/lspci; growth of
plan time per device from size to size (linear growth keeps it flat).

P2 apply parallelism: 8 PFs on the simulated kernel with a latency model (a delay per VF
created and per driver probe, like a real driver's); VF counts set and VFs bound to vfio-pci.
Apply on all 8 PFs (--jobs 8) against the slowest single PF alone and against the same 8 PFs
one after another (--jobs 1, what a shell loop over PFs takes).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv, ok=(0,)):
    """Runs argv; returns (wall seconds, peak RSS in KiB).

    Peak RSS comes from GNU time, which forks from its own small image: the rusage of a child
    forked by Python would count the Python image the child had before exec."""
    with tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *argv],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        if proc.returncode not in ok:
            sys.exit(f"bench: {' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
        lines = [line for line in rss.read().splitlines() if line.strip().isdigit()]
        return wall, int(lines[-1])


def median_run(argv, runs, ok=(0,)):
    samples = [run(argv, ok) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), max(s[1] for s in samples)


def make_host(build, work, name, pfs, vfs, extra=()):
    out = os.path.join(work, name)
    subprocess.run([os.path.join(build, "bench", "ptrec_bench_host"), "--pfs", str(pfs), "--vfs", str(vfs),
                    "--out", out, *extra], check=True)
    devices = len(os.listdir(os.path.join(out, "sys/bus/pci/devices")))
    return out, devices


def p1(build, work, runs):
    ptrec = os.path.join(build, "ptrec")
    sizes = [("~100", 6, 15), ("~500", 16, 29), ("~2000", 16, 120), ("~8000", 64, 120)]
    print("P1: plan latency and memory (medians of %d runs; wall in ms, RSS in MiB)" % runs)
    print("%-7s %7s | %9s %9s | %9s %9s | %9s %9s | %11s %13s" % (
        "size", "devices", "show ms", "show MiB", "plan ms", "plan MiB", "lspci ms", "lspci MiB",
        "plan/lspci", "plan us/dev"))
    for label, pfs, vfs in sizes:
        root, devices = make_host(build, work, "p1-" + label.strip("~"), pfs, vfs)
        desired = root + ".yaml"
        show = median_run([ptrec, "show", "--root", root], runs)
        plan = median_run([ptrec, "plan", "-f", desired, "--root", root], runs, ok=(0, 2))
        lspci = median_run(["lspci", "-nnk", "-A", "linux-sysfs", "-O", "sysfs.path=" + root + "/sys/bus/pci"], runs)
        print("%-7s %7d | %9.1f %9.1f | %9.1f %9.1f | %9.1f %9.1f | %11.2f %13.1f" % (
            label, devices, show[0] * 1e3, show[1] / 1024, plan[0] * 1e3, plan[1] / 1024,
            lspci[0] * 1e3, lspci[1] / 1024, plan[0] / lspci[0], plan[0] * 1e6 / devices))
        shutil.rmtree(root)


def p2(build, work, runs, vf_ms, bind_ms):
    ptrec = os.path.join(build, "ptrec")
    pfs, vfs = 8, 16
    print()
    print("P2: apply on %d PFs x %d VFs to vfio-pci, simulated kernel %d ms per VF created, %d ms per probe"
          % (pfs, vfs, vf_ms, bind_ms))

    def desired(selected):
        text = "apiVersion: ptrec/v1\nkind: HostConfig\nsriov:\n"
        for b in selected:
            text += '  - device: "0000:%02x:00.0"\n    numVfs: %d\n    vfDriver: vfio-pci\n' % (b + 1, vfs)
        path = os.path.join(work, "p2-%d.yaml" % len(selected))
        with open(path, "w") as f:
            f.write(text)
        return path

    def timed_apply(yaml, jobs):
        samples = []
        for _ in range(runs):
            root, _ = make_host(build, work, "p2", pfs, 0, ["--vf-create-ms", str(vf_ms), "--bind-ms", str(bind_ms)])
            samples.append(run([ptrec, "apply", "-f", yaml, "--root", root, "--simulate", "--auto-approve",
                                "--jobs", str(jobs)])[0])
            shutil.rmtree(root)
            os.remove(root + ".yaml")
        return statistics.median(samples)

    one = timed_apply(desired([0]), 1)
    parallel = timed_apply(desired(range(pfs)), 8)
    sequential = timed_apply(desired(range(pfs)), 1)
    print("%-34s %9s %14s" % ("run", "wall ms", "x slowest PF"))
    for name, value in [("one PF alone", one), ("8 PFs, --jobs 8 (ptrec default)", parallel),
                        ("8 PFs, --jobs 1 (sequential)", sequential)]:
        print("%-34s %9.0f %14.2f" % (name, value * 1e3, value / one))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--vf-ms", type=int, default=20)
    parser.add_argument("--bind-ms", type=int, default=10)
    parser.add_argument("--only", choices=["p1", "p2"])
    args = parser.parse_args()
    # tmpfs, like sysfs: keeps the disk out of the figures
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="ptrec-bench-", dir=base) as work:
        print("machine: %d cores, load average %.2f" % (os.cpu_count(), os.getloadavg()[0]))
        if args.only in (None, "p1"):
            p1(args.build, work, args.runs)
        if args.only in (None, "p2"):
            p2(args.build, work, args.runs, args.vf_ms, args.bind_ms)


if __name__ == "__main__":
    main()
