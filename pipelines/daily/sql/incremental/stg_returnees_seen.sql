-- stg_returnees_seen from its own rows of $previous_date and the registrations reported after
-- it: a person registered since takes the grid of their latest new registration (the same
-- order as the full SQL), everyone else keeps theirs.
WITH fresh AS (
    -- (each person's latest new registration: the first of their rows, as in the full SQL)
    SELECT person_key, grid_code
    FROM (
        SELECT
            person_key, grid_code,
            lag(report_date) OVER newest_first AS row_before, lag(person_key) OVER newest_first AS person_before
        FROM returnees
        WHERE report_date > $previous_date AND report_date <= $report_date
        WINDOW newest_first AS (ORDER BY person_key, report_date DESC, source_file, source_row)
    ) r
    WHERE row_before IS NULL OR (person_before IS DISTINCT FROM person_key)
)
SELECT f.person_key, f.grid_code
FROM fresh f
UNION ALL
SELECT p.person_key, p.grid_code
FROM stg_returnees_seen p
WHERE p.report_date = $previous_date AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.person_key = p.person_key)
