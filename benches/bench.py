#!/usr/bin/env python3
"""stemzip side by side with the tools people use now.

Generates its own workloads (numeric CSV time series, about 2.3x compressible
with deflate level 6, like simulation output), runs every tool of a workload
in turn, round after round (so each pair is measured alternately under the
same conditions), and prints one table of medians: wall time, CPU time, peak
RSS and output size. Then a speed/size sweep of compression levels, written
as an SVG chart.

    cargo build --release --no-default-features   # the engine, without the window
    python3 benches/bench.py [--rounds 3] [--only 1,2] [--data DIR] > table.md
    python3 benches/bench.py --memory       # peak RSS with 1 to 32 workers
    python3 benches/bench.py --small-stems  # workload 1, outputs moved aside / deleted
    python3 benches/bench.py --scale-out    # shards: balance and wall time per shard
    python3 benches/bench.py --update       # update reruns over up-to-date zips
    python3 benches/bench.py --move-cost    # workload 5, normal vs --move (as root: cold cache)

Workload 1 (sub-second runs) always gets at least 7 rounds.

Needs: python3 and GNU time (apt-get install time); for the peers Info-ZIP
`zip`, 7-Zip `7zz`, `pigz` (apt-get install zip 7zip pigz). A missing peer is
left out of the table.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEMZIP = os.path.join(ROOT, "target", "release", "stemzip")
ORIGINAL = os.path.join(ROOT, "benches", "python_original.py")
KIB, MIB = 1024, 1024 * 1024

# name, stems, files per stem, bytes per file, compression
WORKLOADS = [
    ("1 many small stems", 2000, 5, 16 * KIB, "stored"),
    ("2 few large stems", 2, 4, 48 * MIB, "deflate"),
    ("3 one stem, 4 large files", 1, 4, 96 * MIB, "deflate"),
    ("4 one stem, one 384 MiB file", 1, 1, 384 * MIB, "deflate"),
    ("5 sixteen stems of 24 MiB", 16, 1, 24 * MIB, "deflate"),
]

# Memory: workloads and worker counts of the peak-RSS table (--memory).
MEMORY_WORKLOADS = (4, 5, 1)
MEMORY_WORKERS = (1, 2, 4, 8, 32)


def csv_block(rng, rows):
    """Rows of a simulated time series: time, then 8 channels that wander."""
    values = [rng.uniform(-500, 500) for _ in range(8)]
    out = []
    t = rng.randint(0, 10_000) / 10
    for _ in range(rows):
        t += 0.1
        values = [v + rng.gauss(0, 3.0) for v in values]
        out.append("%.1f," % t + ",".join("%.4f" % v for v in values) + "\n")
    return "".join(out).encode()


def write_csv(path, size, seed):
    rng = random.Random(seed)
    header = b"time,tension,shear,fx,fy,fz,x,y,z\n"
    # Fresh rows for the first MiB, then varied repeats of 1 MiB blocks:
    # realistic ratio, quick to generate.
    rows = min(11_000, size // 90 + 2)
    blocks = [csv_block(rng, rows) for _ in range(4 if size > 4 * MIB else 1)]
    with open(path, "wb") as f:
        f.write(header)
        written = len(header)
        i = 0
        while written < size:
            block = blocks[(i * 7 + seed) % len(blocks)]
            if i % 3 == 2:
                block = csv_block(rng, rows)
                blocks[i % len(blocks)] = block
            piece = block[: size - written]
            f.write(piece)
            written += len(piece)
            i += 1


def workload_dir(base, name):
    """The folder of workload `name` and whether it must be generated (its
    yml/ and csv/ then made anew, empty)."""
    d = os.path.join(base, name)
    if os.path.exists(os.path.join(d, ".complete")):
        return d, False
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "yml"))
    os.makedirs(os.path.join(d, "csv"))
    return d, True


def make_workload(base, name, stems, files, size):
    d, generate = workload_dir(base, name.split()[0])
    if not generate:
        return d
    marker = os.path.join(d, ".complete")
    for s in range(stems):
        stem = "case%04d" % s
        open(os.path.join(d, "yml", stem + ".yml"), "w").close()
        for p in range(files):
            write_csv(os.path.join(d, "csv", "%s_part%d.csv" % (stem, p)), size, s * 31 + p)
    open(marker, "w").close()
    return d


def profile(d, out, compression, level):
    path = os.path.join(d, "profile-%s-%s.yml" % (compression, level))
    with open(path, "w") as f:
        f.write(
            "file_management:\n  input_directory: yml\n  output_directory: %s\n"
            "  filename:\n    extension: [yml]\n"
            "analysis:\n  input_directory: csv\n  filename:\n    extension: [csv]\n"
            "parallel_processing:\n  progress_reporting: false\n"
            "archive:\n  compression: %s\n%s" % (out, compression, "  level: %d\n" % level if level else "")
        )
    return path


def stems_of(d):
    return sorted(f[:-4] for f in os.listdir(os.path.join(d, "yml")) if f.endswith(".yml"))


def members(d, stem):
    c = os.path.join(d, "csv")
    return [os.path.join(c, f) for f in sorted(os.listdir(c)) if stem in f]


def have(tool):
    return shutil.which(tool) is not None


def measure(cmd, shell=False):
    """Runs cmd; returns wall seconds, CPU seconds and peak RSS in KiB. The
    RSS comes from GNU time, which starts the command itself: a child forked
    from this (large) Python process would report the parent's RSS as its own."""
    if isinstance(cmd, str):
        cmd = ["sh", "-c", cmd]
    report = os.path.join(os.environ.get("TMPDIR", "/tmp"), "stemzip-bench-time.txt")
    gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    full = [gnu_time, "-f", "%e %U %S %M", "-o", report] + cmd if gnu_time else cmd
    start = time.perf_counter()
    p = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), p.stderr.decode(errors="replace")[-2000:]))
    if not gnu_time:
        return wall, float("nan"), float("nan")
    with open(report) as f:
        fields = f.read().split()[-4:]
    return wall, float(fields[1]) + float(fields[2]), float(fields[3])


def dir_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def tools_for(d, compression, workers, out):
    """(label, command builder) pairs; each builder returns (cmd, shell)."""
    stems = stems_of(d)
    q = lambda p: "'" + p + "'"
    per_stem = lambda fmt, jobs: (
        "printf '%%s\\n' %s | xargs -P %d -I{} sh -c %s"
        % (" ".join(stems), jobs, q(fmt))
    )
    csv = os.path.join(d, "csv")
    tools = []
    if compression == "stored":
        tools.append(("stemzip stored", lambda: ([STEMZIP, "run", profile(d, out, "stored", None), "--workers", str(workers)], False)))
        tools.append(("python original (zipfile, %d procs)" % workers, lambda: (["python3", ORIGINAL, d + "/yml", csv, out, str(workers), "stored"], False)))
        if have("zip"):
            tools.append(("Info-ZIP zip -0 per stem", lambda: (per_stem("zip -q -j -0 %s/{}.zip %s/{}*" % (out, csv), workers), True)))
        if have("7zz"):
            tools.append(("7zz -mx=0 -mmt=%d per stem" % workers, lambda: (per_stem("7zz a -bso0 -bsp0 -tzip -mx=0 -mmt=%d %s/{}.zip %s/{}*" % (workers, out, csv), 1), True)))
        tools.append(("cp + sync", lambda: ("mkdir -p %s && cp %s/* %s/ && sync" % (out, csv, out), True)))
        return tools
    for level in (6, 1):
        tools.append(("stemzip deflate -%d, %d workers" % (level, workers), (lambda l: lambda: ([STEMZIP, "run", profile(d, out, "deflate", l), "--workers", str(workers)], False))(level)))
    tools.append(("stemzip deflate -6, 1 worker", lambda: ([STEMZIP, "run", profile(d, out, "deflate", 6), "--workers", "1"], False)))
    tools.append(("stemzip stored", lambda: ([STEMZIP, "run", profile(d, out, "stored", None), "--workers", str(workers)], False)))
    tools.append(("python original -6 (%d procs)" % workers, lambda: (["python3", ORIGINAL, d + "/yml", csv, out, str(workers), "deflate", "6"], False)))
    if have("pigz"):
        for level in (6, 1):
            tools.append(("pigz -%d -p %d (same bytes)" % (level, workers), (lambda l: lambda: ("mkdir -p %s && cat %s/*.csv | pigz -%d -p %d > %s/all.gz" % (out, csv, l, workers, out), True))(level)))
    if have("7zz"):
        for level in (1,):
            tools.append(("7zz -mx=%d -mmt=%d per stem" % (level, workers), (lambda l: lambda: (per_stem("7zz a -bso0 -bsp0 -tzip -mx=%d -mmt=%d %s/{}.zip %s/{}*" % (l, workers, out, csv), 1), True))(level)))
    if have("zip"):
        tools.append(("Info-ZIP zip -6 per stem (%d at once)" % workers, lambda: (per_stem("zip -q -j -6 %s/{}.zip %s/{}*" % (out, csv), workers), True)))
    tools.append(("cp + sync", lambda: ("mkdir -p %s && cp %s/* %s/ && sync" % (out, csv, out), True)))
    return tools


def digest(out):
    h = hashlib.sha256()
    for f in sorted(os.listdir(out)):
        with open(os.path.join(out, f), "rb") as fh:
            h.update(f.encode())
            h.update(fh.read())
    return h.hexdigest()


def run_workload(d, name, compression, workers, rounds, scratch):
    tools = tools_for(d, compression, workers, scratch)
    results = {label: [] for label, _ in tools}
    sizes = {}
    digests = {}
    data_bytes = dir_size(os.path.join(d, "csv"))
    # With many small files (workload 1) each run's output is moved aside,
    # and all of it deleted after the workload: ext4 without a journal (as on
    # the machine of BENCHMARKS.md) skips inodes deleted in the last minutes
    # when it creates a file, so deleting 2,000 zips just before the next run
    # slowed that run's file creation by a varying amount, whichever tool it
    # was. Large outputs (a few files) are deleted at once: keeping them all
    # would take gigabytes.
    keep_aside = len(stems_of(d)) > 100
    trash = scratch + ".old"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(trash, ignore_errors=True)
    os.makedirs(trash)
    runs = 0
    for r in range(rounds):
        order = tools if r % 2 == 0 else list(reversed(tools))
        for label, build in order:
            if os.path.exists(scratch) and keep_aside:
                runs += 1
                os.rename(scratch, os.path.join(trash, str(runs)))
            shutil.rmtree(scratch, ignore_errors=True)
            os.makedirs(scratch)
            subprocess.run(["sync"])
            cmd, shell = build()
            results[label].append(measure(cmd, shell))
            sizes[label] = dir_size(scratch)
            if label.startswith("stemzip deflate -6"):
                digests[label] = digest(scratch)
            print("  %-40s round %d: %.2f s" % (label, r + 1, results[label][-1][0]), file=sys.stderr)
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(trash, ignore_errors=True)
    rows = []
    for label, _ in tools:
        walls = [x[0] for x in results[label]]
        cpus = [x[1] for x in results[label]]
        rss = max(x[2] for x in results[label])
        rows.append((label, statistics.median(walls), statistics.median(cpus), rss, sizes[label]))
    same = len(set(digests.values())) <= 1
    return rows, data_bytes, same


def level_sweep(d, workers, scratch):
    """(tool, level, MB/s, ratio) for the chart, on one workload."""
    csv = os.path.join(d, "csv")
    data = dir_size(csv)
    points = []
    runs = [("stemzip", l, lambda l=l: ([STEMZIP, "run", profile(d, scratch, "deflate", l), "--workers", str(workers)], False)) for l in range(1, 10)]
    stems = stems_of(d)
    if have("7zz"):
        runs += [("7-Zip", l, lambda l=l: ("for s in %s; do 7zz a -bso0 -bsp0 -tzip -mx=%d -mmt=%d %s/$s.zip %s/$s*; done" % (" ".join(stems), l, workers, scratch, csv), True)) for l in (1, 5, 7)]
    if have("zip"):
        runs += [("Info-ZIP", l, lambda l=l: ("printf '%%s\\n' %s | xargs -P %d -I{} sh -c 'zip -q -j -%d %s/{}.zip %s/{}*'" % (" ".join(stems), workers, l, scratch, csv), True)) for l in (1, 6, 9)]
    for tool, level, build in runs:
        shutil.rmtree(scratch, ignore_errors=True)
        os.makedirs(scratch)
        cmd, shell = build()
        wall, _, _ = measure(cmd, shell)
        size = dir_size(scratch)
        points.append((tool, level, data / wall / 1e6, data / size))
        print("  sweep %-9s -%d: %.1f MB/s, ratio %.3f" % (tool, level, points[-1][2], points[-1][3]), file=sys.stderr)
    return points


def svg_chart(points, path, title):
    w, h, m = 720, 440, 60
    xs = [p[3] for p in points]
    ys = [p[2] for p in points]
    x0, x1 = min(xs) * 0.98, max(xs) * 1.02
    y0, y1 = 0, max(ys) * 1.1
    X = lambda v: m + (v - x0) / (x1 - x0) * (w - 2 * m)
    Y = lambda v: h - m - (v - y0) / (y1 - y0) * (h - 2 * m)
    colours = {"stemzip": "#1f77b4", "7-Zip": "#d62728", "Info-ZIP": "#2ca02c"}
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (w, h),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="24" font-size="15">%s</text>' % (m, title),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (m, h - m, w - m, h - m),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (m, m, m, h - m),
           '<text x="%d" y="%d" text-anchor="middle">compression ratio (input / output), higher is smaller</text>' % (w / 2, h - 18),
           '<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">throughput MB/s (input), higher is faster</text>' % (h / 2, h / 2)]
    for i in range(6):
        yv = y0 + (y1 - y0) * i / 5
        out.append('<text x="%d" y="%d" text-anchor="end">%.0f</text>' % (m - 6, Y(yv) + 4, yv))
        xv = x0 + (x1 - x0) * i / 5
        out.append('<text x="%d" y="%d" text-anchor="middle">%.2f</text>' % (X(xv), h - m + 16, xv))
    for tool, colour in colours.items():
        pts = sorted((p for p in points if p[0] == tool), key=lambda p: p[1])
        if not pts:
            continue
        out.append('<polyline fill="none" stroke="%s" points="%s"/>' % (colour, " ".join("%.1f,%.1f" % (X(p[3]), Y(p[2])) for p in pts)))
        for p in pts:
            out.append('<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>' % (X(p[3]), Y(p[2]), colour))
            out.append('<text x="%.1f" y="%.1f" fill="%s">%d</text>' % (X(p[3]) + 6, Y(p[2]) - 6, colour, p[1]))
    for i, (tool, colour) in enumerate(colours.items()):
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>' % (w - 170, 40 + i * 18, colour, w - 152, 50 + i * 18, tool))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))


def planning(base):
    """20,000 stems x 100,000 data files: time the plan alone (dry run)."""
    d = os.path.join(base, "planning")
    marker = os.path.join(d, ".complete")
    if not os.path.exists(marker):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "yml"))
        os.makedirs(os.path.join(d, "csv"))
        for s in range(20_000):
            open(os.path.join(d, "yml", "run%05d_LC.yml" % s), "w").close()
        for f in range(100_000):
            # Every stem takes about five files; a few take none.
            open(os.path.join(d, "csv", "run%05d_LC_part%d.csv" % (f // 5, f % 5)), "w").close()
        open(marker, "w").close()
    rows = []
    for mode in ("contains", "prefix", "exact"):
        p = profile(d, os.path.join(d, "out"), "stored", None)
        cmd = [STEMZIP, "run", p, "--dry-run", "--json", "--set", "archive.stem_match=%s" % mode]
        walls = [measure(cmd)[0] for _ in range(3)]
        rows.append((mode, statistics.median(walls)))
    return rows



def measure_sys(cmd, shell=False):
    """Like measure, also returning the kernel (system) CPU seconds."""
    if isinstance(cmd, str):
        cmd = ["sh", "-c", cmd]
    report = os.path.join(os.environ.get("TMPDIR", "/tmp"), "stemzip-bench-time.txt")
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", report] + cmd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), p.stderr.decode(errors="replace")[-2000:]))
    with open(report) as f:
        fields = f.read().split()[-4:]
    return wall, float(fields[1]) + float(fields[2]), float(fields[2])


def small_stems(base, workers, rounds):
    """Workload 1 (2,000 small stems, stored) in the two conditions reruns
    meet: the previous output moved aside (and deleted after the workload),
    and the previous output deleted (rm -rf) just before each run, as a
    rerun that replaces its zips or a clean-up script does. stemzip, the
    Python reference and `cp -r` + `sync` of the same zips alternate; one
    warm-up round, then `rounds` rounds; median and spread (min-max)."""
    name, stems, files, size, _ = WORKLOADS[0]
    d = make_workload(base, name, stems, files, size)
    out = os.path.join(base, "out")
    zips = os.path.join(base, "zips1")
    prof = profile(d, out, "stored", None)
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([STEMZIP, "run", prof], check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(zips, ignore_errors=True)
    os.rename(out, zips)
    tools = [
        ("stemzip stored, %d workers" % workers, [STEMZIP, "run", prof, "--workers", str(workers)]),
        ("python original (zipfile, %d procs)" % workers, ["python3", ORIGINAL, d + "/yml", d + "/csv", out, str(workers), "stored"]),
        ("cp -r + sync of the same zips", "cp -r %s %s && sync" % (zips, out)),
    ]
    print("| condition | tool | wall s median | wall s min-max | kernel CPU s median | vs stemzip |")
    print("|---|---|---:|---:|---:|---:|")
    for condition in ("moved aside", "deleted just before"):
        trash = out + ".old"
        shutil.rmtree(trash, ignore_errors=True)
        os.makedirs(trash)
        results = {label: [] for label, _ in tools}
        runs = 0
        for r in range(rounds + 1):
            order = tools if r % 2 == 0 else list(reversed(tools))
            for label, cmd in order:
                if os.path.exists(out):
                    if condition == "moved aside":
                        runs += 1
                        os.rename(out, os.path.join(trash, str(runs)))
                    else:
                        shutil.rmtree(out)
                subprocess.run(["sync"])
                result = measure_sys(cmd)
                if r > 0:
                    results[label].append(result)
                print("  %-12s %-40s round %d: %.2f s" % (condition, label, r, result[0]), file=sys.stderr)
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(trash, ignore_errors=True)
        ref = statistics.median(x[0] for x in results[tools[0][0]])
        for label, _ in tools:
            walls = [x[0] for x in results[label]]
            kernel = statistics.median(x[2] for x in results[label])
            print("| %s | %s | %.2f | %.2f-%.2f | %.2f | %.2fx |" % (
                condition, label, statistics.median(walls), min(walls), max(walls), kernel,
                statistics.median(walls) / ref))
        sys.stdout.flush()
    shutil.rmtree(zips, ignore_errors=True)

def memory_table(base, scratch, rounds):
    """Peak RSS and wall time of stemzip alone for each worker count, on the
    workloads where memory could grow with workers: one 384 MiB file and
    16 x 24 MiB (deflate level 1, the fastest, so reading and compressing
    race most), and 2,000 small stems (stored). Outputs are deleted before
    each run, as a rerun would replace them. Median of `rounds` runs after
    one warm-up."""
    print("| workload | workers | wall s (median) | peak RSS MiB (max) |")
    print("|---|---:|---:|---:|")
    for number in MEMORY_WORKLOADS:
        name, stems, files, size, compression = WORKLOADS[number - 1]
        print("generating workload %s…" % name, file=sys.stderr)
        d = make_workload(base, name, stems, files, size)
        level = 1 if compression == "deflate" else None
        prof = profile(d, scratch, compression, level)
        for workers in MEMORY_WORKERS:
            cmd = [STEMZIP, "run", prof, "--workers", str(workers)]
            walls, peaks = [], []
            for r in range(rounds + 1):
                shutil.rmtree(scratch, ignore_errors=True)
                wall, _, rss = measure(cmd)
                if r > 0:
                    walls.append(wall)
                    peaks.append(rss)
            print("| %s | %d | %.2f | %.0f |" % (name, workers, statistics.median(walls), max(peaks) / 1024))
            sys.stdout.flush()
    shutil.rmtree(scratch, ignore_errors=True)


def make_skewed(base):
    """The scale-out workload: 300 stems of one CSV each, sizes spread
    log-uniformly over two orders of magnitude (32 KiB to 3.2 MiB)."""
    d, generate = workload_dir(base, "skewed")
    if not generate:
        return d
    marker = os.path.join(d, ".complete")
    rng = random.Random(14)
    for s in range(300):
        stem = "case%04d" % s
        open(os.path.join(d, "yml", stem + ".yml"), "w").close()
        size = int(32 * KIB * 100 ** rng.random())
        write_csv(os.path.join(d, "csv", "%s_part0.csv" % stem), size, s)
    open(marker, "w").close()
    return d


def scale_out(base, workers, rounds, scratch):
    """Shards on the skewed workload: the heaviest shard's bytes over the
    mean for N = 2, 4, 8, 16 by size and by hash (with the size split's
    bound, mean plus the largest stem); then the wall time of each shard
    run alone (size split from a split file, outputs deleted before each
    run) against the whole run, median of `rounds` after a warm-up."""
    d = make_skewed(base)
    prof = profile(d, scratch, "deflate", None)
    print("| shards N | heaviest / mean, size | heaviest / mean, hash | bound (mean + largest) / mean |")
    print("|---:|---:|---:|---:|")
    for n in (2, 4, 8, 16):
        ratios = {}
        for by in ("size", "hash"):
            out = subprocess.run([STEMZIP, "run", prof, "--dry-run", "--json", "--shards", str(n), "--shard-by", by],
                                 check=True, capture_output=True, text=True).stdout
            table = json.loads(out)
            ratios[by] = table["max_over_mean"]
            mean = table["bytes"] / n
            bound = (mean + table["largest_stem_bytes"]) / mean
        print("| %d | %.3f | %.3f | %.3f |" % (n, ratios["size"], ratios["hash"], bound))
    sys.stdout.flush()
    print()
    print("| run (%d workers) | wall s (median) | / whole run | ideal |" % workers)
    print("|---|---:|---:|---:|")

    def timed(extra):
        walls = []
        for r in range(rounds + 1):
            shutil.rmtree(scratch, ignore_errors=True)
            wall, _, _ = measure([STEMZIP, "run", prof, "--workers", str(workers)] + extra)
            if r > 0:
                walls.append(wall)
        return statistics.median(walls)

    whole = timed([])
    print("| whole run | %.2f | 1.00 | 1.00 |" % whole)
    split = os.path.join(base, "skewed-split.yaml")
    for n, by in ((2, "size"), (4, "size"), (4, "hash")):
        if by == "size":
            subprocess.run([STEMZIP, "run", prof, "--dry-run", "--shards", str(n), "--split", split],
                           check=True, capture_output=True)
        for k in range(1, n + 1):
            how = ["--split", split] if by == "size" else ["--shard-by", "hash"]
            wall = timed(["--shard", "%d/%d" % (k, n)] + how)
            print("| shard %d of %d by %s | %.2f | %.2f | %.2f |" % (k, n, by, wall, wall / whole, 1 / n))
            sys.stdout.flush()
    shutil.rmtree(scratch, ignore_errors=True)


def update_reruns(base, workers, rounds, scratch):
    """Update mode on workloads 1 and 2: the full run (outputs deleted
    before each), the update rerun over zips that are all up to date, and
    the planning alone (--dry-run without --update) for scale. Median of
    `rounds` after a warm-up each."""
    print("| workload | full run s | update rerun, all up to date s | planning alone s |")
    print("|---|---:|---:|---:|")
    for number in (1, 2):
        name, stems, files, size, compression = WORKLOADS[number - 1]
        d = make_workload(base, name, stems, files, size)
        prof = profile(d, scratch, compression, None)
        base_cmd = [STEMZIP, "run", prof, "--workers", str(workers)]

        def median(cmd, fresh):
            walls = []
            for r in range(rounds + 1):
                if fresh:
                    shutil.rmtree(scratch, ignore_errors=True)
                wall, _, _ = measure(cmd)
                if r > 0:
                    walls.append(wall)
            return statistics.median(walls)

        full = median(base_cmd, True)
        subprocess.run(base_cmd, check=True, capture_output=True)
        rerun = median(base_cmd + ["--update"], False)
        out = subprocess.run(base_cmd + ["--update", "--json"], check=True, capture_output=True, text=True).stdout
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["up_to_date"] == stems, summary
        dry = median([STEMZIP, "run", prof, "--dry-run"], False)
        print("| %s | %.2f | %.2f | %.2f |" % (name, full, rerun, dry))
        sys.stdout.flush()
    shutil.rmtree(scratch, ignore_errors=True)


def move_cost(base, workers, rounds, scratch):
    """Workload 5 run normally and with --move, alternating, each on a
    fresh copy of its data (move mode deletes it) with the page cache
    dropped before the run where that is allowed (root)."""
    name, stems, files, size, compression = WORKLOADS[4]
    d = make_workload(base, name, stems, files, size)
    copy = os.path.join(base, "move-copy")
    walls = {"normal": [], "move": []}
    for r in range(rounds):
        for mode in ("normal", "move"):
            shutil.rmtree(copy, ignore_errors=True)
            os.makedirs(copy)
            for sub in ("yml", "csv"):
                shutil.copytree(os.path.join(d, sub), os.path.join(copy, sub))
            prof = profile(copy, os.path.join(copy, "zip"), compression, None)
            subprocess.run(["sync"], check=True)
            try:
                with open("/proc/sys/vm/drop_caches", "w") as f:
                    f.write("3\n")
            except OSError:
                pass
            cmd = [STEMZIP, "run", prof, "--workers", str(workers)] + (["--move"] if mode == "move" else [])
            wall, _, _ = measure(cmd)
            left = len(os.listdir(os.path.join(copy, "csv")))
            assert left == (0 if mode == "move" else stems * files), (mode, left)
            walls[mode].append(wall)
    shutil.rmtree(copy, ignore_errors=True)
    print("| run (%d workers) | %s | median |" % (workers, " | ".join("round %d" % (r + 1) for r in range(rounds))))
    print("|---|%s---:|" % ("---:|" * rounds))
    for mode, label in (("normal", "normal"), ("move", "`--move` (all files deleted)")):
        print("| %s | %s | %.2f s |" % (label, " | ".join("%.2f s" % w for w in walls[mode]), statistics.median(walls[mode])))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--data", default=os.path.join(ROOT, "target", "bench-data"))
    ap.add_argument("--only", help="comma-separated workload numbers, e.g. 2,4")
    ap.add_argument("--chart", default=os.path.join(ROOT, "docs", "levels.svg"))
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--planning", action="store_true", help="only time planning 20,000 stems x 100,000 files")
    ap.add_argument("--memory", action="store_true", help="only the peak RSS and wall time of stemzip with 1 to 32 workers")
    ap.add_argument("--move-cost", action="store_true", help="only workload 5 run normally and with --move, on fresh copies")
    ap.add_argument("--update", action="store_true", help="only update reruns over up-to-date zips against the full run (workloads 1 and 2)")
    ap.add_argument("--scale-out", action="store_true", help="only the shard balance (N = 2 to 16, by size and hash) and each shard's wall time against the whole run")
    ap.add_argument("--small-stems", action="store_true", help="only workload 1, outputs moved aside and deleted, with kernel CPU (7 rounds unless --rounds is larger)")
    args = ap.parse_args()
    if not os.access(STEMZIP, os.X_OK):
        sys.exit("build first: cargo build --release --no-default-features")
    os.makedirs(args.data, exist_ok=True)
    scratch = os.path.join(args.data, "out")
    if args.planning:
        print("| stem match | plan of 20,000 stems x 100,000 files (dry run, whole process) |")
        print("|---|---:|")
        for mode, wall in planning(args.data):
            print("| %s | %.2f s |" % (mode, wall))
        return
    if args.memory:
        memory_table(args.data, scratch, args.rounds)
        return
    if args.move_cost:
        move_cost(args.data, args.workers, args.rounds, scratch)
        return
    if args.update:
        update_reruns(args.data, args.workers, max(args.rounds, 5), scratch)
        return
    if args.scale_out:
        scale_out(args.data, args.workers, args.rounds, scratch)
        return
    if args.small_stems:
        small_stems(args.data, args.workers, max(args.rounds, 7))
        return
    print("| workload | tool | wall s | CPU s | peak RSS MiB | output MiB | vs stemzip |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for number, (name, stems, files, size, compression) in enumerate(WORKLOADS, 1):
        if args.only and str(number) not in args.only.split(","):
            continue
        print("generating workload %s…" % name, file=sys.stderr)
        d = make_workload(args.data, name, stems, files, size)
        # Workload 1 takes well under a second per stemzip run, where one
        # hiccup of the disk is a large share: it gets more rounds.
        rounds = max(args.rounds, 7) if number == 1 else args.rounds
        print("workload %s: %d rounds" % (name, rounds), file=sys.stderr)
        rows, data_bytes, same = run_workload(d, name, compression, args.workers, rounds, scratch)
        ref = rows[0][1]
        for label, wall, cpu, rss, out in rows:
            print("| %s (%.0f MiB) | %s | %.2f | %.2f | %.0f | %.1f | %.2fx |" % (
                name, data_bytes / MIB, label, wall, cpu, rss / 1024, out / MIB, wall / ref))
        if compression == "deflate":
            print("| %s | stemzip -6 zips identical with 1 and %d workers | %s | | | | |" % (name, args.workers, "yes" if same else "NO"))
        sys.stdout.flush()
    if not args.no_sweep:
        d = make_workload(args.data, WORKLOADS[1][0], *WORKLOADS[1][1:4])
        points = level_sweep(d, args.workers, scratch)
        os.makedirs(os.path.dirname(args.chart), exist_ok=True)
        svg_chart(points, args.chart, "Deflate levels on workload 2 (%d workers)" % args.workers)
        print()
        print("| tool | level | MB/s | ratio |")
        print("|---|---:|---:|---:|")
        for tool, level, speed, ratio in points:
            print("| %s | %d | %.1f | %.3f |" % (tool, level, speed, ratio))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
