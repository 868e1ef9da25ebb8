"""An analyst's first queries on a wangge warehouse, with DuckDB, each in a fresh connection (so
each pays for opening the files, as a first query does), then the same queries on one Parquet
file per table (the floor: what the data costs to read when file opening costs nothing). Each is
timed five times, a fresh connection each time, and the median kept: the queries take
milliseconds, and a single timing of one is mostly this VM's noise.

usage: bench_year_duckdb.py WAREHOUSE FLOOR_DIR
Prints JSON: {"warehouse": {query: seconds}, "floor": {query: seconds}, "rows": {query: result}}.
"""
import json
import os
import sys
import time

import duckdb

warehouse, floor = sys.argv[1], sys.argv[2]


def source(table, compacted):
    if compacted:
        return f"read_parquet('{floor}/{table}.parquet')"
    return f"read_parquet('{warehouse}/{table}/*/*.parquet', hive_partitioning = true, union_by_name = true)"


QUERIES = {
    "count visits": lambda s: f"select count(*) from {s('visits')}",
    "returnees by month": lambda s: f"select date_trunc('month', report_date) as m, count(*) from {s('returnees')} group by 1 order by 1",
    "returnees joined to grids": lambda s: (
        f"with g as (select distinct grid_code, community_code from {s('grids')}) "
        f"select g.community_code, count(*) from {s('returnees')} r join g on g.grid_code = r.grid_code group by 1 order by 1"
    ),
}


def run(compacted):
    out, rows = {}, {}
    for name, query in QUERIES.items():
        times = []
        for _ in range(5):
            con = duckdb.connect()
            start = time.perf_counter()
            result = con.sql(query(lambda t: source(t, compacted))).fetchall()
            times.append(time.perf_counter() - start)
            con.close()
        out[name] = sorted(times)[2]
        rows[name] = len(result) if len(result) > 1 else result[0][0]
    return out, rows


if not os.path.exists(f"{floor}/visits.parquet"):
    os.makedirs(floor, exist_ok=True)
    con = duckdb.connect()
    for table in ["visits", "returnees", "grids"]:
        con.sql(
            f"copy (select * from {source(table, False)}) to '{floor}/{table}.parquet' (format parquet, compression zstd)"
        )
    con.close()

on_warehouse, rows = run(False)
on_floor, floor_rows = run(True)
assert rows == floor_rows, (rows, floor_rows)
print(json.dumps({"warehouse": on_warehouse, "floor": on_floor, "rows": rows}, ensure_ascii=False, default=str))
