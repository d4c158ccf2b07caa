#!/usr/bin/env python3
"""Every file sdu publishes opens right with the plain call of each mainstream reader.

  python .ci/readers.py OUT [OUT ...]

For each `*.parquet` under the folders (the ledger's derived caches in `.compact/` aside):
pandas (`pd.read_parquet`), pyarrow (no view types in the stored schema), polars and DuckDB
read it; identifier columns (`iin`, `bin`, `holder_iin`, `holder_bin`) are strings of 12
digits, never numbers; a published table's columns have the contract's types
(docs/datapackage.json: dates are dates, times are zoned Asia/Almaty, lists are lists).
Where frictionless and openpyxl are installed (the notebooks' venv): every `datapackage.json`
validates with `frictionless validate` and names every CSV of its folder (whose ids pandas and
polars, told the string columns by the package, read as 12-digit text), and every `.xlsx`
opens with openpyxl with its identifiers as text. Exits 1 naming every file that fails.
"""
import json
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

try:  # the notebooks' venv (.ci/requirements.txt)
    import frictionless
    import openpyxl
except ImportError:
    frictionless = openpyxl = None

IDS = {"iin", "bin", "holder_iin", "holder_bin", "head_iin", "recipient_iin"}
TWELVE = re.compile(r"^\d{12}$")
CONTRACT = {r["name"]: r for r in json.loads(
    (Path(__file__).resolve().parent.parent / "docs" / "datapackage.json").read_text())["resources"]}


def arrow_type_ok(field: dict, t: pa.DataType) -> bool:
    """Whether a stored Arrow type is what the contract's field type promises."""
    kind = field["type"]
    if kind == "string":
        return pa.types.is_string(t) or pa.types.is_large_string(t)
    if kind == "date":
        return pa.types.is_date32(t)
    if kind == "datetime":
        return pa.types.is_timestamp(t) and t.tz == "Asia/Almaty"
    if kind == "integer":
        return pa.types.is_integer(t)
    if kind == "number":
        return pa.types.is_floating(t)
    if kind == "boolean":
        return pa.types.is_boolean(t)
    if kind == "list":
        return (pa.types.is_list(t) or pa.types.is_large_list(t)) and (
            pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type))
    return False


def contract_problems(f: Path) -> list:
    """A published table's stored schema against the contract (names, order, types)."""
    resource = CONTRACT.get(f.stem)
    if resource is None or "ledger" in f.parts:
        return []
    schema = pq.read_schema(f)
    fields = resource["schema"]["fields"]
    if schema.names != [x["name"] for x in fields]:
        return [f"columns {schema.names} are not the contract's {[x['name'] for x in fields]}"]
    return [f"{x['name']}: stored as {t}, the contract says {x['type']}"
            for x, t in zip(fields, schema.types) if not arrow_type_ok(x, t)]


def package_problems(p: Path) -> list:
    """A folder's datapackage.json validates and describes every CSV beside it."""
    problems = []
    described = {r["path"] for r in json.loads(p.read_text())["resources"]}
    on_disk = {c.name for c in p.parent.glob("*.csv")}
    if described != on_disk:
        problems.append(f"describes {sorted(described)}, the folder holds {sorted(on_disk)}")
    # pandas and polars, told the string columns by the package, keep ids as 12-digit text.
    for r in json.loads(p.read_text())["resources"]:
        f = p.parent / r["path"]
        text = [x["name"] for x in r["schema"]["fields"] if x["type"] in ("string", "list")]
        df = pd.read_csv(f, encoding="utf-8-sig", dtype={c: str for c in text}, keep_default_na=False)
        frames = [("pandas", df)]
        if pl is not None:
            frames.append(("polars", pl.read_csv(f, schema_overrides={c: pl.String for c in text}).to_pandas()))
        for reader, frame in frames:
            for col in IDS & set(frame.columns):
                values = [v for v in frame[col] if isinstance(v, str) and v] + [
                    v for v in frame[col] if not isinstance(v, str) and not pd.isna(v)]
                if not all(isinstance(v, str) and TWELVE.match(v) for v in values):
                    problems.append(f"{r['path']} via {reader}: {col} not 12-digit text ({values[:1]!r})")
    report = frictionless.validate(str(p))
    if not report.valid:
        for task in report.tasks:
            for err in task.errors[:5]:
                problems.append(f"frictionless: {task.name}: {err.message[:200]}")
        problems.extend(f"frictionless: {e.message[:200]}" for e in report.errors[:5])
    return problems


def xlsx_problems(x: Path) -> list:
    """The workbook opens; identifiers are text cells of 12 digits, dates are dates."""
    problems = []
    sheet = openpyxl.load_workbook(x, read_only=True).worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None) or ()
    fields = {fd["name"]: fd for fd in CONTRACT.get(x.stem, {}).get("schema", {}).get("fields", [])}
    if list(header) != list(fields):
        problems.append(f"header {header} is not the contract's {list(fields)}")
    for n, row in enumerate(rows, start=2):
        for name, value in zip(header, row):
            if value is None:
                continue
            if name in IDS and not (isinstance(value, str) and TWELVE.match(value)):
                problems.append(f"row {n} {name}: {value!r} is not 12-digit text")
            if fields.get(name, {}).get("type") == "date" and not hasattr(value, "year"):
                problems.append(f"row {n} {name}: {value!r} is not a date")
    return problems[:10]


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
    problems.extend(contract_problems(f))
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
    failed = bool(bad)
    if frictionless is not None:
        roots = [Path(r) for r in sys.argv[1:]]
        packages = [p for r in roots for p in sorted(r.rglob("datapackage.json"))]
        books = [x for r in roots for x in sorted(r.rglob("*.xlsx"))]
        checked = {**{p: package_problems(p) for p in packages}, **{x: xlsx_problems(x) for x in books}}
        for f, problems in checked.items():
            if problems:
                failed = True
                print(f"{f}:")
                for p in problems:
                    print(f"  {p}")
        ok = sum(1 for v in checked.values() if not v)
        print(f"data packages and workbooks: {len(packages)} datapackage.json, {len(books)} .xlsx, "
              f"{ok} of {len(checked)} valid (frictionless {frictionless.__version__}, openpyxl {openpyxl.__version__})")
        if not packages:
            print("no datapackage.json found")
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
