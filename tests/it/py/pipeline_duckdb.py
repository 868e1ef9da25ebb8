"""Runs a wangge pipeline's own SQL files with DuckDB over the same Parquet, as an independent
engine would: each step in the order given becomes a table (materialised steps get their
report_date column back, as the marts have it), with $report_date and the pipeline's other
parameters bound as named parameters, not spliced. Prints the last step's rows as JSON lines,
sorted, with the column order of the query.

usage: pipeline_duckdb.py WAREHOUSE PIPELINE_DIR REPORT_DATE STEP[:mart] ...
"""
import datetime
import json
import os
import sys
import tomllib

import duckdb
from marts import as_mart

warehouse, pipeline_dir, report_date = sys.argv[1], sys.argv[2], sys.argv[3]
steps = sys.argv[4:]
config = tomllib.load(open(f"{pipeline_dir}/pipeline.toml", "rb"))
params = dict(config.get("params", {}))
params["report_date"] = datetime.date.fromisoformat(report_date)

con = duckdb.connect()

for table in sorted(os.listdir(warehouse)):
    # Every form's table (and the ledger's) the warehouse has; not the marts.
    if table.startswith("_") or table == "marts" or not os.path.isdir(f"{warehouse}/{table}"):
        continue
    con.sql(
        f"create view {table} as select * from read_parquet('{warehouse}/{table}/*/*.parquet', hive_partitioning=false)"
    )

last = None
for spec in steps:
    name, _, kind = spec.partition(":")
    sql = open(f"{pipeline_dir}/sql/{name}.sql", encoding="utf-8").read()
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    if kind == "mart":
        used["report_date"] = params["report_date"]
    select = as_mart(con, sql, used) if kind == "mart" else sql
    con.execute(f"create table {name} as {select}", used)
    last = name

rel = con.sql(f"select * from {last}")
columns = [c for c in rel.columns if c != "report_date"]
rows = con.sql(f"select {', '.join(columns)} from {last} order by all").fetchall()
for row in rows:
    print(json.dumps(dict(zip(columns, [v if not isinstance(v, (datetime.date, datetime.datetime)) else v.isoformat() for v in row])), ensure_ascii=False))
