#!/usr/bin/env python3
"""Fault suite: kill -9 each command at random points, then run it again, and check what a
hostile world would break.

For every iteration (the commands in turn, delays seeded), one command is started on a fresh copy of its inputs and killed
with SIGKILL after a random delay within the time an uninterrupted run takes; then the same
command runs again to completion. Checked after each:

- no partial folder is trusted: every folder with `_SUCCESS` has a manifest whose outputs
  exist with their SHA-256;
- no duplicate SMS (message ids across every outbox) and no duplicate re-issue request
  (request ids across every `elicense_requests`);
- no temporary file or folder (`.<name>.tmp-<pid>`) is left after the next run;
- the outputs equal those of an uninterrupted run (manifests' run fields aside).

    python3 bench/faults.py --iterations 300 --pairs 50  # the full suite (a quarter of an hour)
    python3 bench/faults.py --iterations 4 --pairs 5 --sdu target/debug/sdu   # what CI runs

Prints the counts per command and exits 1 on the first violation (with its seed and delay).
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORLD = ["synth", "--scale", "tiny", "--seed", "3", "--as-of", "2026-11-23"]
BACKFILL = ["backfill", "--snapshot", "w", "--from", "2026-11-01", "--to", "2026-11-21", "--simulate-portal"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(root: Path) -> dict:
    """Every file below root but manifests, the lock, the ledger's caches (`.compact/`:
    derived, rewritten at whichever run reads enough new files) and the staged store's
    `entry.json` (it records when and how fast it was staged; the verdicts beside it are
    compared) and its memo of file identities (written once a file is 3 s old: timing), with
    its digest."""
    out = {}
    for p in sorted(root.rglob("*")):
        store_entry = (p.name == "entry.json" and "staged" in p.parts) or p.name.startswith(".sdu-store.files.json")
        if p.is_file() and p.name not in ("manifest.json", ".sdu.lock") and ".compact" not in p.parts \
                and not store_entry:
            out[str(p.relative_to(root))] = digest(p)
    return out


def temporaries(root: Path) -> list:
    return [str(p) for p in root.rglob("*") if ".tmp-" in p.name]


def check_published(root: Path) -> list:
    """Folders with _SUCCESS whose manifest does not match their files."""
    bad = []
    for ok in root.rglob("_SUCCESS"):
        folder = ok.parent
        m = json.loads((folder / "manifest.json").read_text())
        for o in m.get("outputs", []):
            f = folder / o["file"]
            if not f.is_file() or digest(f) != o["sha256"]:
                bad.append(f"{folder}: {o['file']}")
    return bad


def duplicates(root: Path, pattern: str, column: str) -> list:
    import polars as pl

    files = [f for f in root.rglob(pattern) if (f.parent / "_SUCCESS").exists()]
    if not files:
        return []
    ids = pl.concat([pl.read_parquet(f, columns=[column]) for f in files])[column]
    return ids.filter(ids.is_duplicated()).unique().to_list()


def run(sdu, args, cwd, kill_after=None):
    env = dict(os.environ, SDU_LOG="error")
    p = subprocess.Popen([sdu, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    if kill_after is None:
        _, err = p.communicate()
        return p.returncode, err.decode()
    time.sleep(kill_after)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
    p.wait()
    return p.returncode, ""


def lock_pairs(sdu, work, n):
    """Pairs of runs of the same day on one fresh folder, started together: the day's work
    (dispatch and advance) must be done by exactly one of them."""
    counts = {"one": 0, "both": 0, "refused": 0, "after": 0}
    env = dict(os.environ, SDU_LOG="error")
    for i in range(n):
        case = work / f"pair-{i}"
        case.mkdir()
        args = [sdu, "run", "--snapshot", str(work / "w"), "--as-of", "2026-11-10", "--out", "o", "--no-report", "--json"]
        procs = [subprocess.Popen(args, cwd=case, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(2)]
        did = 0
        for p in procs:
            out, err = p.communicate()
            if p.returncode == 0:
                day = json.loads(out.decode().strip().splitlines()[-1])
                if day["dispatch"] is not None or day["advance"] is not None:
                    did += 1
                else:
                    counts["after"] += 1
            elif p.returncode == 1 and b"another run" in err:
                counts["refused"] += 1
            else:
                raise SystemExit(f"pair {i}: exit {p.returncode}: {err.decode()[-400:]}")
        counts["one" if did == 1 else "both"] += 1
        shutil.rmtree(case)
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--pairs", type=int, default=50, help="pairs of `sdu run` started together on one folder")
    default = Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "release" / "sdu"
    ap.add_argument("--sdu", default=str(default))
    a = ap.parse_args()
    sdu = str(Path(a.sdu).resolve())
    rng = random.Random(a.seed)
    work = Path(tempfile.mkdtemp(prefix="sdu-faults-"))
    try:
        code, err = run(sdu, [*WORLD, "--out", "w"], work)
        assert code == 0, err
        # The uninterrupted references, timed.
        commands = {
            "backfill": (BACKFILL, "out"),
            "validate": (["validate", "--snapshot", "w"], "w.validation"),
            "synth": (["synth", "--scale", "tiny", "--seed", "4", "--as-of", "2026-11-23"], "w4"),
        }
        reference, took = {}, {}
        for name, (args, target) in commands.items():
            ref = work / f"ref-{name}"
            ref.mkdir()
            if name != "synth":
                shutil.copytree(work / "w", ref / "w")
            t = time.monotonic()
            code, err = run(sdu, [*args, "--out", target], ref)
            took[name] = time.monotonic() - t
            assert code in (0, 1), err  # validate exits 1: the world has planted defects
            reference[name] = tree(ref / target)
        counts = {n: {"runs": 0, "killed": 0} for n in commands}
        for i in range(a.iterations):
            # Every command in turn, so a handful of iterations kills each at least once.
            name = list(commands)[i % len(commands)]
            args, target = commands[name]
            delay = rng.uniform(0, took[name])
            case = work / f"case-{i}"
            case.mkdir()
            if name != "synth":
                shutil.copytree(work / "w", case / "w")
            code, _ = run(sdu, [*args, "--out", target], case, kill_after=delay)
            counts[name]["runs"] += 1
            counts[name]["killed"] += code == -signal.SIGKILL
            problems = check_published(case)
            if name == "backfill":
                problems += [f"duplicate SMS {m}" for m in duplicates(case / target, "sms_outbox.parquet", "message_id")]
                problems += [f"duplicate request {r}" for r in duplicates(case / target, "elicense_requests.parquet", "request_id")]
            code, err = run(sdu, [*args, "--out", target], case)
            if code not in (0, 1) or (name != "validate" and code != 0):
                problems.append(f"the run after the kill failed ({code}): {err.strip()[-400:]}")
            problems += [f"left behind: {t}" for t in temporaries(case)]
            problems += check_published(case)
            if name == "backfill":
                problems += [f"duplicate SMS {m}" for m in duplicates(case / target, "sms_outbox.parquet", "message_id")]
                problems += [f"duplicate request {r}" for r in duplicates(case / target, "elicense_requests.parquet", "request_id")]
            got = tree(case / target)
            if got != reference[name]:
                differ = sorted(k for k in set(got) | set(reference[name]) if got.get(k) != reference[name].get(k))
                problems.append(f"outputs differ from an uninterrupted run: {differ[:5]}")
            if problems:
                print(f"iteration {i} ({name}, killed after {delay:.3f} s of {took[name]:.3f} s, seed {a.seed}):")
                for p in problems:
                    print(f"  {p}")
                sys.exit(1)
            shutil.rmtree(case)
        pairs = lock_pairs(sdu, work, a.pairs)
        print(f"{a.iterations} iterations, seed {a.seed}: no partial folder trusted, no duplicate SMS or request, "
              "no temporary left, outputs equal to an uninterrupted run")
        for name, c in counts.items():
            print(f"  {name:<9} {c['runs']:>4} runs, {c['killed']:>4} killed before they finished "
                  f"(uninterrupted: {took[name]:.2f} s)")
        print(f"  lock: {a.pairs} pairs of `sdu run` started together: {pairs['one']} with exactly one doing the "
              f"day's work ({pairs['refused']} refused at once with exit 1, {pairs['after']} came after and changed "
              f"nothing), {pairs['both']} with both")
        if pairs["both"]:
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
