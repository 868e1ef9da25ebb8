-- Every returnee (by person_key) ever registered on or before the report date, with the grid of
-- their latest registration: what the cumulative count (累计) counts, per grid. Kept apart from
-- stg_returnees_latest, which carries only the returnees still current, because this set
-- grows with every day of history: two narrow columns are cheap to carry forward a year, the
-- whole registration is not. Incremental (sql/incremental/): this full SQL reads the whole
-- history only when there is no earlier mart to build on.
-- Each person's latest registration is the first of their rows in one sequence of all rows,
-- ordered by person and newest first (stg_returnee_days says why not a window per person).
SELECT person_key, grid_code
FROM (
    SELECT
        person_key, grid_code,
        lag(report_date) OVER newest_first AS row_before, lag(person_key) OVER newest_first AS person_before
    FROM returnees
    WHERE report_date <= $report_date
    WINDOW newest_first AS (ORDER BY person_key, report_date DESC, source_file, source_row)
) r
-- (row_before is null on the first row alone: report_date never is)
WHERE row_before IS NULL OR (person_before IS DISTINCT FROM person_key)
