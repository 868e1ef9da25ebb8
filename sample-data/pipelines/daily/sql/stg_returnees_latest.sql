-- Each returnee (by person_key) still current on the report date, as last registered on or
-- before it: where they live and their control measure, and whether that registration made
-- them new: no report listed them in the `new_window_days` days before it (as
-- stg_returnee_days decides for the trend). Current means registered in the `new_window_days`
-- days up to the report date, or under a measure that has not ended before it: everyone the
-- day's returnee measures and the grid workers' list can name. The others only count in 累计,
-- which stg_returnees_seen keeps, so this mart stays the size of a fortnight, not of the
-- history. A person who is not current was last registered more than the window ago, so
-- their next registration is new whatever it was: the incremental SQL needs nothing more.
-- Written once per run, so the returnee measures and the grid workers' list read the
-- registrations once; incremental (sql/incremental/): this full SQL reads the whole history
-- only when there is no earlier mart to build on.
WITH days AS (
    SELECT person_key, report_date, lag(report_date) OVER (PARTITION BY person_key ORDER BY report_date) AS day_before
    FROM (SELECT DISTINCT person_key, report_date FROM returnees WHERE report_date <= $report_date) d
)
SELECT
    r.town_code, r.community_code, r.grid_code, r.person_key, r.name, r.id_masked, r.phone_masked, r.address,
    r.origin, r.arrival_date, r.measure, r.measure_start, r.measure_end, r.registered_on,
    coalesce(r.registered_on - d.day_before > $new_window_days, true) AS new_on_registration
FROM (
    SELECT
        town_code, community_code, grid_code, person_key, name, id_masked, phone_masked, address, origin,
        arrival_date, measure, measure_start, measure_end, report_date AS registered_on,
        row_number() OVER (PARTITION BY person_key ORDER BY report_date DESC, source_file, source_row) AS latest
    FROM returnees
    WHERE report_date <= $report_date
) r
JOIN days d ON d.person_key = r.person_key AND d.report_date = r.registered_on
WHERE r.latest = 1
    AND (r.registered_on > $report_date - $new_window_days OR r.measure_end >= $report_date)
