-- Each place's latest fire-safety check as of the report date (by report date, then check
-- date, then the order the files were read in): whether a hazard it found is still open.
SELECT *
FROM (
    SELECT
        s.*,
        row_number() OVER (
            PARTITION BY grid_code, address ORDER BY report_date DESC, check_date DESC, source_file, source_row
        ) AS nth
    FROM stg_fire_safety s
) ranked
WHERE nth = 1
