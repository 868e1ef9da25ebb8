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
-- By aggregates, not by ranking: the form keeps one registration per person and report date
-- (dedup = "citizen_id"; if a form changes that, the unique check in pipeline.toml fails), so
-- the latest is the one on the person's last date and the one before is their last date
-- before it. DataFusion's window operator keeps a slice of every column it carries for each
-- person in a batch: ranking took a city of 14 districts' run from 124 MB to 182 MB here.
WITH registered AS (
    SELECT person_key, max(report_date) AS registered_on
    FROM returnees
    WHERE report_date <= $report_date
    GROUP BY person_key
),
before AS (
    SELECT r.person_key, max(r.report_date) AS day_before
    FROM returnees r
    JOIN registered g ON g.person_key = r.person_key AND r.report_date < g.registered_on
    GROUP BY r.person_key
)
SELECT
    r.town_code, r.community_code, r.grid_code, r.person_key, r.name, r.id_masked, r.phone_masked, r.address,
    r.origin, r.arrival_date, r.measure, r.measure_start, r.measure_end, r.report_date AS registered_on,
    coalesce(r.report_date - b.day_before > $new_window_days, true) AS new_on_registration
FROM returnees r
JOIN registered g ON g.person_key = r.person_key AND g.registered_on = r.report_date
LEFT JOIN before b ON b.person_key = r.person_key
WHERE r.report_date > $report_date - $new_window_days OR r.measure_end >= $report_date
