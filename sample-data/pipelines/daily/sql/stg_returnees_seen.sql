-- Every returnee (by person_key) ever registered on or before the report date, with the grid of
-- their latest registration: what the cumulative count (累计) counts, per grid. Kept apart from
-- stg_returnees_latest, which carries only the returnees still current, because this set
-- grows with every day of history: two narrow columns are cheap to carry forward a year, the
-- whole registration is not. Incremental (sql/incremental/): this full SQL reads the whole
-- history only when there is no earlier mart to build on.
SELECT person_key, grid_code
FROM (
    SELECT
        person_key, grid_code,
        row_number() OVER (PARTITION BY person_key ORDER BY report_date DESC, source_file, source_row) AS latest
    FROM returnees
    WHERE report_date <= $report_date
) r
WHERE r.latest = 1
