"""An analyst's first queries on a wangge warehouse, with DuckDB, each in a fresh connection (so
each pays for opening the files, as a first query does), then the same queries on one Parquet
file per table (the floor: what the data costs to read when file opening costs nothing). Each is
timed fifteen times on each, a fresh connection each time, warehouse and floor in turns so that
this VM's drift falls on both, and the median kept: the queries take milliseconds, and a single
timing of one is mostly noise (five gave the count's ratio anywhere from 2.5x to 4.1x).

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


def once(query, compacted):
    con = duckdb.connect()
    start = time.perf_counter()
    result = con.sql(query(lambda t: source(t, compacted))).fetchall()
    seconds = time.perf_counter() - start
    con.close()
    return seconds, (len(result) if len(result) > 1 else result[0][0])


def run():
    times = {False: {}, True: {}}
    rows = {False: {}, True: {}}
    for name, query in QUERIES.items():
        runs = {False: [], True: []}
        for _ in range(15):
            for compacted in (False, True):
                seconds, rows[compacted][name] = once(query, compacted)
                runs[compacted].append(seconds)
        for compacted in (False, True):
            times[compacted][name] = sorted(runs[compacted])[7]
    return times, rows


if not os.path.exists(f"{floor}/visits.parquet"):
    os.makedirs(floor, exist_ok=True)
    con = duckdb.connect()
    for table in ["visits", "returnees", "grids"]:
        con.sql(
            f"copy (select * from {source(table, False)}) to '{floor}/{table}.parquet' (format parquet, compression zstd)"
        )
    con.close()

times, rows = run()
assert rows[False] == rows[True], rows
print(json.dumps({"warehouse": times[False], "floor": times[True], "rows": rows[False]}, ensure_ascii=False, default=str))
