"""Reads a wangge warehouse with DuckDB, as an analyst would, and prints what it finds as JSON:
rows per table and report date, reject reasons, the column types of `returnees`, and any
value in any text column that looks like a raw citizen ID number."""
import json
import os
import re
import sys

import duckdb

root = sys.argv[1]
con = duckdb.connect()
# Every table the warehouse has (each form's, the rejects and the ledger), not the marts.
tables = sorted(t for t in os.listdir(root) if os.path.isdir(f"{root}/{t}") and not t.startswith("_") and t != "marts")
out = {"rows": {}, "types": {}, "raw_ids": []}
raw_id = re.compile(r"^\d{17}[\dXx]$")
for t in tables:
    rel = con.sql(f"select * from read_parquet('{root}/{t}/*/*.parquet', hive_partitioning=true)")
    counts = con.sql(f"select cast(report_date as varchar), count(*) from rel group by 1 order by 1").fetchall()
    out["rows"][t] = {d: n for d, n in counts}
    if t == "returnees":
        out["types"] = {c: str(ty) for c, ty in zip(rel.columns, rel.types)}
    for c, ty in zip(rel.columns, rel.types):
        if str(ty) == "VARCHAR":
            for (v,) in con.sql(f'select distinct "{c}" from rel where "{c}" is not null').fetchall():
                if raw_id.match(v):
                    out["raw_ids"].append([t, c, v])
out["reasons"] = dict(con.sql(f"select reason, count(*) from read_parquet('{root}/rejects/*/*.parquet') group by 1").fetchall())
print(json.dumps(out, ensure_ascii=False, sort_keys=True))
