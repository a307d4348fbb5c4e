#!/usr/bin/env python3
"""Ratios between each RelayCore benchmark and the baselines measured beside it in the same run.

    swift package benchmark --target RelayCoreBenchmarks --no-progress | tee run.txt
    python3 ratios.py run.txt            # or: ... | python3 ratios.py

Reads the benchmark tool's default text output. Prints two Markdown tables: per benchmark, wall clock p25/p50 (ns per
operation) and mallocs per operation; then per benchmark and baseline of the same group (same name up to the last
"/"), the speedup (baseline time / benchmark time, at p50 and p25) and both malloc counts. Ratios, not absolute
times, are what to compare across runs on a shared, noisy machine.
"""
import re
import sys

SCALE = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}


def parse(lines):
    results, name = {}, None
    for line in lines:
        line = line.rstrip("\n")
        if re.match(r"^[a-z][a-z+]*/\S", line):
            name = line.strip()
            results[name] = {}
            continue
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if name is None or len(cells) < 9 or cells[0] == "Metric":
            continue
        label = cells[0]
        unit = re.search(r"\((K|M|G)\)", label)
        factor = SCALE[unit.group(1) if unit else ""]
        values = [float(c) * factor for c in cells[1:8]]
        row = dict(zip(["p0", "p25", "p50", "p75", "p90", "p99", "p100"], values), samples=int(cells[8]))
        if label.startswith("Time (wall clock)"):
            if "(us)" in label or "(μs)" in label:
                row = {k: v * 1e3 if k != "samples" else v for k, v in row.items()}
            elif "(ms)" in label:
                row = {k: v * 1e6 if k != "samples" else v for k, v in row.items()}
            results[name]["time"] = row
        elif label.startswith("Malloc (total)"):
            results[name]["malloc"] = row
    return {k: v for k, v in results.items() if "time" in v}


def main():
    source = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    results = parse(source)
    if not results:
        sys.exit("no benchmark results found in the input")
    print("| benchmark | p25 ns/op | p50 ns/op | mallocs/op | samples |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        mallocs = r.get("malloc", {}).get("p50", float("nan"))
        print(f"| {name} | {r['time']['p25']:,.0f} | {r['time']['p50']:,.0f} | {mallocs:g} | {r['time']['samples']} |")
    print()
    print("| group | benchmark | vs baseline | speedup p50 | speedup p25 | mallocs/op (this / baseline) |")
    print("|---|---|---|---:|---:|---:|")
    groups = {}
    for name in results:
        group, _, leaf = name.rpartition("/")
        groups.setdefault(group, []).append(leaf)
    for group, leaves in groups.items():
        baselines = [leaf for leaf in leaves if leaf.startswith("baseline ")]
        for leaf in leaves:
            if leaf in baselines:
                continue
            this = results[f"{group}/{leaf}"]
            for base in baselines:
                other = results[f"{group}/{base}"]
                p50 = other["time"]["p50"] / this["time"]["p50"]
                p25 = other["time"]["p25"] / this["time"]["p25"]
                mine = this.get("malloc", {}).get("p50", float("nan"))
                theirs = other.get("malloc", {}).get("p50", float("nan"))
                print(f"| {group} | {leaf} | {base[len('baseline '):]} | {p50:,.1f}x | {p25:,.1f}x | {mine:g} / {theirs:g} |")


if __name__ == "__main__":
    main()
