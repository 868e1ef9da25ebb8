-- Each place's latest fire-safety check as of the report date (by report date, then check
-- date, then the order the files were read in): whether a hazard it found is still open.
-- Materialised: two steps read it, and a view would rank the 92 days' checks for each.
-- `reported_on` is the report that carried the check (the mart's report_date is the run's).
SELECT *
FROM (
    SELECT
        s.*,
        s.report_date AS reported_on,
        row_number() OVER (
            PARTITION BY grid_code, address ORDER BY report_date DESC, check_date DESC, source_file, source_row
        ) AS nth
    FROM stg_fire_safety s
) ranked
WHERE nth = 1
