#!/usr/bin/env python3
"""A day's cost late in a long campaign, with and without the ledger's caches.

Takes an output folder that a long backfill left (say the demo's `data/demo/out`, 22 months)
and its world, and times the same K-day backfill continuing it, alternately with binary A and
binary B (or with one binary, caches kept vs deleted before each run), each on a fresh copy.
Prints every run, the medians and the ratio B / A.

  python3 bench/ledger.py --out data/demo/out --world data/demo/world --from 2026-11-24 \
      --days 5 --runs 3 --a /tmp/sdu-before --b target/release/sdu
  python3 bench/ledger.py ... --a target/release/sdu --b target/release/sdu --b-without-cache
"""
import argparse
import datetime as dt
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def drop_caches(out: Path) -> None:
    for c in out.rglob(".compact"):
        shutil.rmtree(c)


def one(binary: str, src: Path, world: Path, start: str, end: str, without_cache: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        shutil.copytree(src, out)
        if without_cache:
            drop_caches(out)
        args = [binary, "backfill", "--snapshot", str(world), "--from", start, "--to", end,
                "--out", str(out), "--simulate-portal"]
        t = time.monotonic()
        r = subprocess.run(args, capture_output=True, text=True, env={"SDU_LOG": "error", "PATH": "/usr/bin:/bin"})
        took = time.monotonic() - t
        if r.returncode != 0:
            sys.exit(f"{binary} failed: {r.stderr[-500:]}")
        return took


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--world", required=True, type=Path)
    p.add_argument("--from", dest="start", required=True)
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--a", required=True)
    p.add_argument("--b", required=True)
    p.add_argument("--a-without-cache", action="store_true")
    p.add_argument("--b-without-cache", action="store_true")
    a = p.parse_args()
    end = (dt.date.fromisoformat(a.start) + dt.timedelta(days=a.days - 1)).isoformat()
    times = {"A": [], "B": []}
    for i in range(a.runs):
        for name, binary, nocache in [("A", a.a, a.a_without_cache), ("B", a.b, a.b_without_cache)]:
            took = one(binary, a.out, a.world, a.start, end, nocache)
            times[name].append(took)
            print(f"run {i + 1} {name}: {took:.2f} s ({took / a.days:.2f} s a day)", flush=True)
    ma, mb = statistics.median(times["A"]), statistics.median(times["B"])
    print(f"median A {ma:.2f} s, B {mb:.2f} s over {a.days} days; B / A = {mb / ma:.2f}")


if __name__ == "__main__":
    main()
