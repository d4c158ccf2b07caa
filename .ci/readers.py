#!/usr/bin/env python3
"""Every Parquet file sdu publishes opens with the plain call of each mainstream reader.

  python .ci/readers.py OUT [OUT ...]

For each `*.parquet` under the folders (the ledger's derived caches in `.compact/` aside):
pandas (`pd.read_parquet`), pyarrow (no view types in the stored schema), polars and DuckDB
read it; identifier columns (`iin`, `bin`, `holder_iin`, `holder_bin`) are strings of 12
digits, never numbers. Exits 1 naming every file that fails.
"""
import re
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

try:  # the pandas-2 venv has only pandas and pyarrow
    import duckdb
    import polars as pl
except ImportError:
    duckdb = pl = None

IDS = {"iin", "bin", "holder_iin", "holder_bin", "head_iin", "recipient_iin"}
TWELVE = re.compile(r"^\d{12}$")


def check(f: Path) -> list:
    problems = []
    try:
        df = pd.read_parquet(f)
    except Exception as e:  # noqa: BLE001 - report every reader's failure
        return [f"pandas: {type(e).__name__}: {str(e)[:160]}"]
    views = [f"{n}: {t}" for n, t in zip(pq.read_schema(f).names, pq.read_schema(f).types) if "view" in str(t)]
    if views:
        problems.append(f"view types in the stored schema: {views}")
    if pl is not None:
        try:
            pl.read_parquet(f)
        except Exception as e:  # noqa: BLE001
            problems.append(f"polars: {e}")
        try:
            duckdb.sql(f"select count(*) from read_parquet('{f}')").fetchall()
        except Exception as e:  # noqa: BLE001
            problems.append(f"duckdb: {e}")
    for col in IDS & set(df.columns):
        values = df[col].dropna()
        if len(values) and not all(isinstance(v, str) and TWELVE.match(v) for v in values):
            problems.append(f"{col}: not 12-digit strings ({values.iloc[0]!r})")
    return problems


def main() -> None:
    files = [f for root in sys.argv[1:] for f in sorted(Path(root).rglob("*.parquet")) if ".compact" not in f.parts]
    if not files:
        sys.exit("no Parquet file found")
    bad = {}
    for f in files:
        problems = check(f)
        if problems:
            bad[f] = problems
    for f, problems in bad.items():
        print(f"{f}:")
        for p in problems:
            print(f"  {p}")
    others = f", polars {pl.__version__}, DuckDB {duckdb.__version__}" if pl is not None else ""
    print(f"readers: {len(files)} Parquet files, {len(files) - len(bad)} open everywhere "
          f"(pandas {pd.__version__}, pyarrow {pa.__version__}{others})")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
