#!/usr/bin/env python3
"""The staged snapshot store's targets (issue 15), at each scale of the worlds `bench/synth.py`
(or `sdu synth`) wrote under BENCH_DIR: wall time and peak memory as whole processes under
/usr/bin/time, medians of RUNS runs, with the plain DuckDB peer measured in the same run.

- staging a new snapshot: `sdu validate --store` into a fresh store (every rule of the seven
  registries, and the slices): STAGE_RUNS runs;
- on that staged snapshot, each from a fresh output folder: `candidates`, `dispatch` (on the
  candidates' offers), `explain --bin` (a renamed organization) and `explain --iin` (its head);
- the plain DuckDB query (bench/candidates_plain.sql: the same outcomes, no validation) over
  the raw files, and the ratio sdu staged / plain;
- with BACKFILL_DAYS=N (at the last scale only), a backfill of the N days up to AS_OF with a
  simulated portal on the staged snapshot, and its cost per day, first and last months.

    SCALES="small medium country" BACKFILL_DAYS=365 python3 bench/staged.py

SDU_BIN=<path> times that binary instead of building the release one with cargo.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import tomllib
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The same folders, scales, runs and date as bench/candidates.py, its timing and its plain DuckDB
# peer.
import candidates  # noqa: E402
from candidates import AS_OF, OUT, ROOT, RUNS, SCALES, TARGET, TWIN, plain_sql  # noqa: E402

STAGE_RUNS = int(os.environ.get("STAGE_RUNS", "1"))
BACKFILL_DAYS = int(os.environ.get("BACKFILL_DAYS", "0"))


def median_of(runs, cmd, before=None):
    """(wall s, peak MB): bench/candidates.py's medians without the CPU time."""
    wall, _, mb = candidates.median_of(runs, cmd, before)
    return wall, mb


def fmt(x):
    return f"{x[0]:.2f} s, {x[1]:.0f} MB"


def main():
    if os.environ.get("SDU_BIN"):
        sdu = Path(os.environ["SDU_BIN"])
    else:
        subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True,
                       env={**os.environ, "CARGO_TARGET_DIR": str(TARGET)})
        sdu = TARGET / "release/sdu"
    work = Path(tempfile.mkdtemp(prefix="sdu-staged-bench-"))
    print(f"sdu {sdu}; medians of {RUNS} runs (staging: {STAGE_RUNS}); as of {AS_OF}")
    for n, scale in enumerate(SCALES):
        world = OUT / scale
        if not world.is_dir():
            print(f"{scale}: no world at {world} (sdu synth --out {world} --scale {scale} --seed 7 --as-of {AS_OF})")
            continue
        store, fresh_store = work / f"{scale}-store", work / f"{scale}-fresh"

        def clean(*paths):
            def go():
                for p in paths:
                    shutil.rmtree(p, ignore_errors=True)
            return go

        stage = median_of(STAGE_RUNS, [str(sdu), "-q", "validate", "--snapshot", str(world), "--out",
                                       str(work / "v"), "--store", str(fresh_store)],
                          clean(fresh_store, work / "v"))
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(fresh_store, store, symlinks=True)
        cand_out = work / f"{scale}-cand"
        cand = [str(sdu), "-q", "candidates", "--snapshot", str(world), "--as-of", AS_OF, "--out", str(cand_out),
                "--store", str(store)]
        staged = median_of(RUNS, cand, clean(cand_out))
        # The day's offers, kept for dispatch and explain.
        clean(cand_out)()
        subprocess.run(cand, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        disp_out = work / f"{scale}-disp"

        def fresh_copy():
            shutil.rmtree(disp_out, ignore_errors=True)
            shutil.copytree(cand_out, disp_out, symlinks=True)
        dispatch = median_of(RUNS, [str(sdu), "-q", "dispatch", "--snapshot", str(world), "--as-of", AS_OF,
                                    "--out", str(disp_out), "--store", str(store)], fresh_copy)
        recipients = next(cand_out.glob(f"{AS_OF}/*/recipients.parquet"), None)
        explain = {}
        if recipients is not None:
            import polars as pl
            r = pl.read_parquet(recipients)
            renamed = r.filter(pl.col("bin").is_not_null())
            if renamed.height:
                for flag, value in (("--bin", renamed["bin"][0]), ("--iin", renamed["iin"][0])):
                    explain[flag] = median_of(RUNS, [str(sdu), "-q", "explain", "--snapshot", str(world), "--as-of",
                                                     AS_OF, "--out", str(disp_out), flag, value, "--store", str(store)])
        pilots = tomllib.loads((ROOT / "data" / "pilots.toml").read_text())["pilot"]
        in_force = [p for p in pilots if (cand_out / AS_OF / p["id"] / "funnel.json").exists()]
        plain_file = work / f"{scale}.plain.sql"
        plain_file.write_text("\n".join(plain_sql(world, p) for p in in_force[:1]))
        plain = median_of(RUNS, [sys.executable, "-c", TWIN, str(plain_file)])
        print(f"{scale:<9} staging (validate --store, all 7 + slices) {fmt(stage)}")
        print(f"{'':<9} staged: candidates {fmt(staged)}; dispatch {fmt(dispatch)}; "
              + "; ".join(f"explain {k} {fmt(v)}" for k, v in explain.items()))
        print(f"{'':<9} plain DuckDB {fmt(plain)}; sdu staged candidates / plain {staged[0] / plain[0]:.2f}")
        if BACKFILL_DAYS and n == len(SCALES) - 1:
            backfill(sdu, world, store, work)
    shutil.rmtree(work, ignore_errors=True)


def backfill(sdu, world, store, work):
    """A backfill of BACKFILL_DAYS days on the staged snapshot; per-day cost from the days'
    published folders' times."""
    out = work / "backfill"
    last = date.fromisoformat(AS_OF)
    first = last - timedelta(days=BACKFILL_DAYS - 1)
    wall, _, mb = candidates.timed([str(sdu), "-q", "backfill", "--snapshot", str(world), "--from", first.isoformat(), "--to",
                      AS_OF, "--out", str(out), "--store", str(store), "--simulate-portal"])
    done = []
    for d in sorted(p for p in out.iterdir() if p.is_dir() and p.name[:2] == "20" and len(p.name) == 10):
        times = [f.stat().st_mtime for f in d.rglob("_SUCCESS")]
        if times:
            done.append(max(times))
    per_day = [b - a for a, b in zip(done, done[1:])]
    month = min(30, len(per_day))
    print(f"backfill  {BACKFILL_DAYS} days, simulated portal: {wall:.1f} s, {mb:.0f} MB; per day median "
          f"{statistics.median(per_day):.3f} s (first {month} days {statistics.median(per_day[:month]):.3f} s, "
          f"last {month} {statistics.median(per_day[-month:]):.3f} s)")


if __name__ == "__main__":
    main()
