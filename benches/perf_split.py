#!/usr/bin/env python3
"""Where the CPU of each stack of the load test goes, per request, from one perf recording.

`benches/perf_split.sh` records the load test (stacks round-robin in one process) with
`perf record -k CLOCK_MONOTONIC` while stamping each line the test prints with the same clock;
this script gives every sample to the stack whose slice was running then, classes its symbol
(our crates, the SDK, the allocator, the kernel, hyper, ...) and prints, per class, the CPU per
request of each stack (cpu-clock samples at 1 kHz: one sample is 1 ms of CPU) and the
difference from the first stack; then the symbols whose cost per request differs most.

    perf_split.py LINES SAMPLES [TOP]

LINES: the load test's output, each line prefixed by a CLOCK_MONOTONIC time in seconds;
SAMPLES: `perf script -F comm,tid,time,ip,sym,dso` output.
"""
import bisect
import collections
import re
import sys

ROUND = re.compile(r"round (\d+) (\S+): ([\d.]+) req/s, ([\d.]+) µs CPU/req, (\d+) requests")
# comm, tid, time, ip, symbol (may hold parentheses), (dso)
SAMPLE = re.compile(r"\s*(\S.*?)\s+(\d+)\s+([\d.]+):\s+[0-9a-f]+\s+(.*)\s+\(([^()]*)\)\s*$")
# Symbols first matched wins.
CLASSES = [
    ("ours", ("tower_telemetry",)),
    ("sdk", ("opentelemetry",)),
    ("alloc", ("malloc", "free", "_int_", "unlink_chunk", "consolidate", "__lll_lock", "tcache")),
    ("memcpy", ("memmove", "memcpy", "memset", "memcmp")),
    ("hyper", ("hyper",)),
    ("tokio", ("tokio", "mio::")),
    ("axum", ("axum",)),
    ("http", ("http::", "http_body")),
]


def classify(sym, dso):
    if "kernel" in dso:
        return "kernel"
    for name, needles in CLASSES:
        if any(n in sym for n in needles):
            return name
    return "other"


def main():
    lines, samples = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    # Slices: from the previous printed line to the line reporting the slice; the first starts
    # at the "measuring" line (start-up and warm-up belong to no stack).
    slices, previous = [], None
    for line in open(lines, encoding="utf-8"):
        stamp, _, rest = line.partition(" ")
        try:
            t = float(stamp)
        except ValueError:
            continue
        if previous is None and "measuring" not in rest:
            continue
        m = ROUND.search(rest)
        if m and previous is not None:
            slices.append((previous, t, m[2].rstrip(":"), int(m[5])))
        previous = t
    if not slices:
        sys.exit("no slices in " + lines)
    starts = [s[0] for s in slices]
    stacks = list(dict.fromkeys(s[2] for s in slices))
    requests = collections.Counter()
    for _, _, stack, n in slices:
        requests[stack] += n
    by_class = {s: collections.Counter() for s in stacks}
    by_symbol = {s: collections.Counter() for s in stacks}
    for line in open(samples, encoding="utf-8", errors="replace"):
        m = SAMPLE.match(line)
        if not m:
            continue
        t, sym, dso = float(m[3]), m[4], m[5]
        i = bisect.bisect_right(starts, t) - 1
        if i < 0 or t > slices[i][1]:
            continue
        stack = slices[i][2]
        by_class[stack][classify(sym, dso)] += 1
        by_symbol[stack][(sym or "[unknown]", dso)] += 1

    def per_request(counter, stack, key):
        return counter[stack][key] * 1000.0 / requests[stack]

    base = stacks[0]
    print("µs of CPU per request (perf cpu-clock samples; perf's own cost included)")
    print("%-8s" % "class" + "".join("%12s" % s for s in stacks) + "".join("%14s" % ("-" + base) for s in stacks[1:]))
    classes = sorted({c for s in stacks for c in by_class[s]}, key=lambda c: -per_request(by_class, stacks[-1], c))
    for c in classes + ["total"]:
        v = [sum(by_class[s].values()) * 1000.0 / requests[s] if c == "total" else per_request(by_class, s, c) for s in stacks]
        print("%-8s" % c + "".join("%12.1f" % x for x in v) + "".join("%+14.1f" % (x - v[0]) for x in v[1:]))
    for stack in stacks[1:]:
        print("\nsymbols costing %s more than %s, µs per request:" % (stack, base))
        symbols = set(by_symbol[stack]) | set(by_symbol[base])
        rows = sorted(
            ((per_request(by_symbol, stack, k) - per_request(by_symbol, base, k), k) for k in symbols),
            reverse=True,
        )
        for d, (sym, dso) in rows[:top]:
            print("%+6.2f  %-6s %s" % (d, classify(sym, dso), sym[:140]))


if __name__ == "__main__":
    main()
