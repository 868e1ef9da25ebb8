-- stg_returnees_seen from its own rows of $previous_date and the registrations reported after
-- it: a person registered since takes the grid of their latest new registration (the same
-- order as the full SQL), everyone else keeps theirs.
WITH fresh AS (
    SELECT
        person_key, grid_code,
        row_number() OVER (PARTITION BY person_key ORDER BY report_date DESC, source_file, source_row) AS latest
    FROM returnees
    WHERE report_date > $previous_date AND report_date <= $report_date
)
SELECT f.person_key, f.grid_code
FROM fresh f
WHERE f.latest = 1
UNION ALL
SELECT p.person_key, p.grid_code
FROM stg_returnees_seen p
WHERE p.report_date = $previous_date AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.person_key = p.person_key)
