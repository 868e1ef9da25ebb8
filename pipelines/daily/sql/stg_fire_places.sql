-- Each place's latest fire-safety check as of the report date (by report date, then check
-- date, then the order the files were read in): whether a hazard it found is still open.
-- Materialised: two steps read it, and a view would rank the 92 days' checks for each.
-- `reported_on` is the report that carried the check (the mart's report_date is the run's).
-- A place's latest check is the first of its rows in one sequence of all checks ordered by
-- place, latest first: the row before it is another place's (or there is none). Not a window
-- partitioned by place: DataFusion keeps state for every partition key in a batch, and a city
-- has tens of thousands of places (14 districts: 0.15 s and 144 MB as a query ranked by place,
-- 0.10 s and 110 MB this way; the same rows). A blank grid or address is one place, as
-- PARTITION BY would have it.
SELECT
    report_date, check_date, town_code, community_code, grid_code, address, place, place_kind, inspector,
    fix_way, fix_deadline, source_file, source_sheet, source_row, hazard, ebike, exit_blocked, hazard_place,
    fixed, report_date AS reported_on,
    -- A winner's rank, 1, in the type the ranked version wrote (row_number's UInt64) for the
    -- marts already written; DataFusion and DuckDB (the tests run this SQL there too) share no
    -- name for an unsigned cast, and both count a one-element array's length as one.
    array_length([1]) AS nth
FROM (
    SELECT
        s.*,
        lag(grid_code) OVER checks AS grid_before, lag(address) OVER checks AS address_before,
        lag(report_date) OVER checks AS date_before
    FROM stg_fire_safety s
    WINDOW checks AS (
        ORDER BY grid_code, address, report_date DESC, check_date DESC, source_file, source_sheet, source_row
    )
) checks
-- `report_date` is never null: a row with none before it is the first of all.
WHERE date_before IS NULL OR (grid_before IS DISTINCT FROM grid_code) OR (address_before IS DISTINCT FROM address)
