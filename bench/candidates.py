#!/usr/bin/env python3
"""Benchmark of `sdu candidates` (all pilots in force) on the worlds `bench/synth.py` wrote:
wall time, CPU time and peak memory as whole processes under /usr/bin/time, median of
several runs, two ways: on a new snapshot (a fresh output folder and a fresh staged store,
so every registry is validated) and staged (a fresh output folder, the store staged once
before timing and kept, so validation is reused). Beside them, measured in the same run:
the scan floor, DuckDB reading only the columns the job needs from the same files (a lower
bound for any engine); the DuckDB twin (bench/candidates_twin.sql), which validates as sdu
does and whose outcome counts and staged rows are checked against sdu's; and the plain
DuckDB query (bench/candidates_plain.sql), the twin without validation, whose counts are
compared with sdu's and reported (a dirty snapshot may differ by the rows validation leaves
out). Then the campaign's day at each scale: `dispatch` on the candidates' offers with the
staged store, and `advance` three days later with simulated replies (each median of the
same number of runs, from a fresh copy).

    SCALES="small country" python3 bench/candidates.py

SDU_BIN=<path> times that binary instead of building the release one with cargo.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/sdu-target"))
OUT = Path(os.environ.get("BENCH_DIR", Path.home() / ".cache/sdu-bench"))
SCALES = os.environ.get("SCALES", "small country").split()
RUNS = int(os.environ.get("RUNS", "5"))
RUNS_COUNTRY = int(os.environ.get("RUNS_COUNTRY", "5"))
AS_OF = os.environ.get("AS_OF", "2026-11-23")

# The columns `candidates` reads, per registry.
NEEDED = {
    "legal_entities": ["bin", "status", "liquidated_on", "kato"],
    "legal_entity_renames": ["event_id", "bin", "changed_on", "recorded_at", "old_name_kk", "old_name_ru",
                             "new_name_kk", "new_name_ru"],
    "legal_entity_heads": ["bin", "iin", "role", "from_date", "to_date"],
    "permits": ["permit_id", "service_code", "holder_bin", "holder_iin", "issued_on", "valid_until", "status"],
    "individuals": ["iin", "surname", "first_name", "patronymic", "kato", "death_date", "declared_dead_on",
                    "missing_declared_on", "emigrated_on", "incapable_from", "incapable_until",
                    "imprisoned_from", "imprisoned_until", "birth_date", "sex"],
    "civil_acts": ["act_id", "iin", "act_type", "act_date", "registered_at", "old_full_name", "new_full_name"],
}

SCAN_FLOOR = """
import duckdb, sys
con = duckdb.connect()
con.execute("SET threads TO 2")
for t, cols in %r.items():
    # Touch every value (statistics alone cannot answer this), with as little compute as possible.
    touch = ", ".join(f"sum(length(CAST({c} AS VARCHAR)))" for c in cols)
    con.execute(f"SELECT {touch} FROM read_parquet('{sys.argv[1]}/{t}.parquet')").fetchall()
""" % (NEEDED,)


TWIN = """
import duckdb, sys
con = duckdb.connect()
con.execute("SET threads TO 2")
con.execute("SET enable_progress_bar = false")
rows = con.execute(open(sys.argv[1]).read()).fetchall()
print(dict(rows))
"""


# The twin's staged registries, and the file whose kept rows (`rows - left_out` in sdu's
# manifest) they must equal.
TWIN_STAGING = {"le": "legal_entities.parquet", "pm": "permits.parquet", "ind": "individuals.parquet",
                "ca": "civil_acts.parquet"}

TWIN_STAGED = r"""
import duckdb, sys
sql = open(sys.argv[1]).read()
macros, body = sql.split("WITH\n", 1)
ctes = body.rsplit("\nSELECT CASE", 1)[0]
con = duckdb.connect()
con.execute("SET threads TO 2")
con.execute("SET enable_progress_bar = false")
con.execute(macros)
print({t: con.execute("WITH " + ctes + f"\nSELECT count(*) FROM {t}").fetchone()[0] for t in %r})
""" % (list(TWIN_STAGING),)


def peer_sql(name, world, pilot):
    services = "(" + ", ".join(f"'{s}'" for s in pilot["services"]) + ")"
    sql = (ROOT / "bench" / name).read_text()
    return sql.format(snap=world, d=AS_OF, start=pilot["in_force_from"], services=services,
                      individuals="true" if pilot["individual_holders"] else "false")


def twin_sql(world, pilot):
    return peer_sql("candidates_twin.sql", world, pilot)


def plain_sql(world, pilot):
    return peer_sql("candidates_plain.sql", world, pilot)


def timed(cmd):
    """(wall s, CPU s, peak MB) of one process. `sdu validate` exits 1 on a snapshot with
    failing rows and has done its work all the same; any other failure stops the benchmark."""
    with tempfile.NamedTemporaryFile("r") as f:
        done = subprocess.run(["/usr/bin/time", "-o", f.name, "-f", "%e %U %S %M", *cmd],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0 and not (done.returncode == 1 and "validate" in cmd):
            raise SystemExit(f"{cmd}: exit {done.returncode}: {done.stderr[-2000:]}")
        wall, user, sys_, peak_kb = f.read().split()[-4:]
    return float(wall), float(user) + float(sys_), int(peak_kb) / 1024


def median_of(runs, cmd, before=None):
    samples = []
    for _ in range(runs):
        if before:
            before()
        samples.append(timed(cmd))
    return tuple(statistics.median(s[i] for s in samples) for i in range(3))


def main():
    if os.environ.get("SDU_BIN"):
        sdu = Path(os.environ["SDU_BIN"])
    else:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True,
                       env={**os.environ, "CARGO_TARGET_DIR": str(TARGET)})
        sdu = TARGET / "release" / "sdu"
    print(f"machine: {os.cpu_count()} cores; as of {AS_OF}; {RUNS} runs ({RUNS_COUNTRY} at country scale), medians")
    print(f"{'scale':<8} | {'new snapshot wall s':>19} {'cpu s':>7} {'peak MB':>8} | {'staged wall s':>13} {'cpu s':>7} "
          f"{'peak MB':>8} | {'scan floor wall s':>17} {'cpu s':>7} {'peak MB':>8} | {'staged/floor':>12}")
    for scale in SCALES:
        world = OUT / scale
        if not (world / "_synth.json").exists():
            print(f"{scale}: no world at {world}; run bench/synth.py first", file=sys.stderr)
            continue
        runs = RUNS_COUNTRY if scale == "country" else RUNS
        out = OUT / f"{scale}.candidates"
        store = OUT / f"{scale}.store"
        candidates = [str(sdu), "-q", "candidates", "--snapshot", str(world), "--as-of", AS_OF, "--out", str(out),
                      "--store", str(store)]
        clean = lambda: shutil.rmtree(out, ignore_errors=True)  # noqa: E731

        def new_snapshot():
            clean()
            shutil.rmtree(store, ignore_errors=True)

        c = median_of(runs, candidates, before=new_snapshot)
        # Staged: the store the first (untimed) run fills, reused by every timed run.
        clean()
        subprocess.run(candidates, check=True, stdout=subprocess.DEVNULL)
        s = median_of(runs, candidates, before=clean)
        f = median_of(runs, [sys.executable, "-c", SCAN_FLOOR, str(world)])
        # The DuckDB peers, for the first pilot sdu published: the twin's outcome counts must
        # equal sdu's; the plain query's are compared and reported.
        import json, tomllib
        pilots = tomllib.loads((ROOT / "data" / "pilots.toml").read_text())["pilot"]
        in_force = [p for p in pilots if (out / AS_OF / p["id"] / "funnel.json").exists()]
        sql_file = OUT / f"{scale}.twin.sql"
        sql_file.write_text("\n".join(twin_sql(world, p) for p in in_force[:1]))
        plain_file = OUT / f"{scale}.plain.sql"
        plain_file.write_text("\n".join(plain_sql(world, p) for p in in_force[:1]))
        t = median_of(runs, [sys.executable, "-c", TWIN, str(sql_file)])
        pl = median_of(runs, [sys.executable, "-c", TWIN, str(plain_file)])
        got = subprocess.run([sys.executable, "-c", TWIN, str(sql_file)], capture_output=True, text=True, check=True).stdout
        twin = eval(got)  # noqa: S307 (our own printed dict)
        got = subprocess.run([sys.executable, "-c", TWIN, str(plain_file)], capture_output=True, text=True, check=True).stdout
        plain = eval(got)  # noqa: S307 (our own printed dict)
        funnel = json.loads((out / AS_OF / in_force[0]["id"] / "funnel.json").read_text())["by_outcome"]
        same = all(funnel.get(k, 0) == v for k, v in twin.items()) and sum(twin.values()) == sum(funnel.values())
        plain_diff = {k: (funnel.get(k, 0), plain.get(k, 0)) for k in sorted(set(funnel) | set(plain))
                      if funnel.get(k, 0) != plain.get(k, 0)}
        # The twin's staging keeps exactly the rows sdu's validation keeps.
        staged = eval(subprocess.run([sys.executable, "-c", TWIN_STAGED, str(sql_file)], capture_output=True,  # noqa: S307
                                     text=True, check=True).stdout)
        manifest = json.loads((out / AS_OF / in_force[0]["id"] / "manifest.json").read_text())
        kept = {e["file"]: e["rows"] - e["left_out"] for e in manifest["inputs"]}
        same_staging = all(staged[t] == kept[f] for t, f in TWIN_STAGING.items())
        if not same_staging:
            print(f"   staging differs: twin {staged}, sdu {kept}")
        same = same and same_staging
        print(f"{scale:<8} | {c[0]:>19.2f} {c[1]:>7.2f} {c[2]:>8.0f} | {s[0]:>13.2f} {s[1]:>7.2f} {s[2]:>8.0f} | "
              f"{f[0]:>17.2f} {f[1]:>7.2f} {f[2]:>8.0f} | {s[0] / f[0]:>12.2f}")
        print(f"{'':<8}   duckdb twin {t[0]:.2f} s {t[1]:.2f} cpu {t[2]:.0f} MB; duckdb plain {pl[0]:.2f} s {pl[1]:.2f} cpu "
              f"{pl[2]:.0f} MB; sdu staged/plain {s[0] / pl[0]:.2f}, sdu staged/twin {s[0] / t[0]:.2f}, "
              f"sdu new snapshot/twin {c[0] / t[0]:.2f}")
        print(f"{'':<8}   twin: same counts (outcomes and staged rows): {same}; plain {plain}: same outcome counts: "
              f"{not plain_diff}" + "".join(f"; {k} sdu {a} plain {b}" for k, (a, b) in plain_diff.items()))
        if not same:
            print(f"   sdu {funnel}\n   twin {twin}")
        campaign_day(sdu, world, out, store, runs)


def campaign_day(sdu, world, candidates_out, store, runs):
    """`dispatch` of the day's offers at 09:00 with the candidates' staged store (the mobile
    base staged into it by a first, untimed run), then `advance` to 09:00 three days later with
    the simulated replies received by then; each on a fresh copy of the folder before it."""
    work = OUT / "campaign.work"
    dispatched = OUT / "campaign.dispatched"
    replies = OUT / "campaign.replies.parquet"

    def fresh(source):
        def before():
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(source, work)
        return before

    dispatch = [str(sdu), "-q", "dispatch", "--snapshot", str(world), "--as-of", AS_OF, "--out", str(work),
                "--store", str(store)]
    fresh(candidates_out)()
    subprocess.run(dispatch, check=True, stdout=subprocess.DEVNULL)
    d = median_of(runs, dispatch, before=fresh(candidates_out))
    shutil.rmtree(dispatched, ignore_errors=True)
    shutil.copytree(work, dispatched)
    later = (date.fromisoformat(AS_OF) + timedelta(days=3)).isoformat() + "T09:00"
    subprocess.run([str(sdu), "-q", "simulate-portal", "--outbox", str(dispatched / AS_OF / "dispatch" / "sms_outbox.parquet"),
                    "--as-of", later, "--out", str(replies)], check=True, stdout=subprocess.DEVNULL)
    a = median_of(runs, [str(sdu), "-q", "advance", "--out", str(work), "--as-of", later, "--replies", str(replies)],
                  before=fresh(dispatched))
    print(f"{'':<8}   dispatch {d[0]:.2f} s {d[1]:.2f} cpu {d[2]:.0f} MB; advance ({later}) {a[0]:.2f} s "
          f"{a[1]:.2f} cpu {a[2]:.0f} MB")
    for p in (work, dispatched):
        shutil.rmtree(p, ignore_errors=True)


if __name__ == "__main__":
    main()
