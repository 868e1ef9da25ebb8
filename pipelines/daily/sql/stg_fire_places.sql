-- Each place's latest fire-safety check as of the report date (by report date, then check
-- date, then the order the files were read in): whether a hazard it found is still open.
-- Materialised: two steps read it, and a view would rank the 92 days' checks for each.
-- `reported_on` is the report that carried the check (the mart's report_date is the run's).
-- The checks are ranked on the columns the ranking needs and the winners joined back to
-- their rows by where each row came from (file, sheet, row of a report): DataFusion's window
-- operator keeps a slice of every column it carries for each place in a batch, so ranking
-- the whole rows took a city of 14 districts' run from 153 MB to 219 MB for this step alone.
WITH ranked AS (
    SELECT
        report_date, source_file, source_sheet, source_row,
        row_number() OVER (
            PARTITION BY grid_code, address
            ORDER BY report_date DESC, check_date DESC, source_file, source_sheet, source_row
        ) AS nth
    FROM stg_fire_safety
)
SELECT s.*, s.report_date AS reported_on, r.nth
FROM stg_fire_safety s
JOIN ranked r
    ON r.report_date = s.report_date AND r.source_file = s.source_file
    AND r.source_sheet = s.source_sheet AND r.source_row = s.source_row
WHERE r.nth = 1
