"""What the DuckDB scripts of the tests and the benchmark share: a materialised step as its mart
has it."""


def as_mart(con, sql, used):
    """`sql` with the run's report_date, in place of a report_date column of its own (wangge
    writes the partition's, not the query's). `used` binds $report_date and the step's
    parameters."""
    bound = {k: v for k, v in used.items() if f"${k}" in sql}
    columns = [d[0] for d in con.execute(f"select * from ({sql}) limit 0", bound).description]
    if "report_date" in columns:
        return f"select * replace ($report_date as report_date) from ({sql})"
    return f"select *, $report_date as report_date from ({sql})"
