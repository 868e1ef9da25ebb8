"""DuckDB's side of `cargo run --example bench_pipeline`: runs the daily pipeline's SQL files
(in the order given, materialised steps as tables with their report_date) over a warehouse and
prints {"seconds": …, "peak_mib": …} for the queries alone (not Python's start-up)."""
import datetime
import json
import os
import resource
import sys
import time
import tomllib

import duckdb
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "it", "py"))
from marts import as_mart  # noqa: E402

warehouse, pipeline_dir, report_date = sys.argv[1], sys.argv[2], sys.argv[3]
steps = sys.argv[4:]
config = tomllib.load(open(f"{pipeline_dir}/pipeline.toml", "rb"))
params = dict(config.get("params", {}))
params["report_date"] = datetime.date.fromisoformat(report_date)
sqls = [(s.partition(":")[0], s.partition(":")[2], open(f"{pipeline_dir}/sql/{s.partition(':')[0]}.sql", encoding="utf-8").read()) for s in steps]

start = time.perf_counter()
con = duckdb.connect()
# Every table of the warehouse (a fixed list missed the forms added later: fire_safety, testing,
# patrols); marts and the incremental state are not tables here.
tables = sorted(d for d in os.listdir(warehouse) if os.path.isdir(f"{warehouse}/{d}") and d != "marts" and not d.startswith(("_", ".")))
for table in tables:
    con.sql(
        f"create view {table} as select * from read_parquet('{warehouse}/{table}/*/*.parquet', hive_partitioning=false)"
    )
for name, kind, sql in sqls:
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    if kind == "mart":
        used["report_date"] = params["report_date"]
        sql = as_mart(con, sql, used)
        con.execute(f"create table {name} as {sql}", used)
    else:
        con.execute(f"create table {name} as {sql}", used)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
