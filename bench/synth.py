#!/usr/bin/env python3
"""Benchmark of `sdu synth`: wall time, CPU time and peak memory at each scale, as whole
processes under /usr/bin/time, median of several runs, beside a peer measured in the same
run: DuckDB rewriting the very same seven Parquet files (read all, write zstd), the cost of
moving that much Parquet through a mature engine.

    python3 bench/synth.py                      # tiny small medium country
    SCALES="small medium" RUNS=5 python3 bench/synth.py

Builds the release binary first. Worlds go to $BENCH_DIR (default ~/.cache/sdu-bench).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/sdu-target"))
OUT = Path(os.environ.get("BENCH_DIR", Path.home() / ".cache/sdu-bench"))
SCALES = os.environ.get("SCALES", "tiny small medium country").split()
RUNS = int(os.environ.get("RUNS", "5"))
RUNS_COUNTRY = int(os.environ.get("RUNS_COUNTRY", "3"))
TABLES = ["legal_entities", "legal_entity_renames", "legal_entity_heads", "permits",
          "individuals", "civil_acts", "mobile_base"]

DUCKDB_REWRITE = """
import duckdb, sys
src, dst = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET threads TO 2")
for t in %r:
    con.execute(f"COPY (SELECT * FROM read_parquet('{src}/{t}.parquet')) TO '{dst}/{t}.parquet' "
                "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072)")
""" % (TABLES,)


def timed(cmd):
    """Runs a command under /usr/bin/time; returns (wall s, cpu s, peak MB)."""
    with tempfile.NamedTemporaryFile("r") as f:
        subprocess.run(["/usr/bin/time", "-o", f.name, "-f", "%e %U %S %M", *cmd],
                       check=True, stdout=subprocess.DEVNULL)
        wall, user, sys_, peak_kb = f.read().split()[-4:]
    return float(wall), float(user) + float(sys_), int(peak_kb) / 1024


def median_of(runs, cmd):
    samples = [timed(cmd) for _ in range(runs)]
    return tuple(statistics.median(s[i] for s in samples) for i in range(3))


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": str(TARGET)})
    try:
        import duckdb  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "duckdb==1.4.2"], check=True)
    sdu = TARGET / "release" / "sdu"
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; {RUNS} runs ({RUNS_COUNTRY} at country scale), medians")
    print(f"{'scale':<8} {'rows':>11} {'size MB':>8} | {'sdu wall s':>10} {'cpu s':>7} {'peak MB':>8} | "
          f"{'duckdb wall s':>13} {'cpu s':>7} {'peak MB':>8} | {'wall ratio':>10}")
    for scale in SCALES:
        runs = RUNS_COUNTRY if scale == "country" else RUNS
        world = OUT / scale
        cmd = [str(sdu), "-q", "synth", "--out", str(world), "--scale", scale, "--seed", "7",
               "--as-of", "2026-11-23"]
        s_wall, s_cpu, s_mem = median_of(runs, cmd)
        rows = sum(json.loads((world / "_synth.json").read_text())["rows"].values())
        size = sum((world / f"{t}.parquet").stat().st_size for t in TABLES) / 2**20
        rewrite = OUT / f"{scale}.duckdb"
        rewrite.mkdir(exist_ok=True)
        d_wall, d_cpu, d_mem = median_of(runs, [sys.executable, "-c", DUCKDB_REWRITE, str(world), str(rewrite)])
        print(f"{scale:<8} {rows:>11,} {size:>8.0f} | {s_wall:>10.2f} {s_cpu:>7.2f} {s_mem:>8.0f} | "
              f"{d_wall:>13.2f} {d_cpu:>7.2f} {d_mem:>8.0f} | {s_wall / d_wall:>10.2f}")


if __name__ == "__main__":
    main()
