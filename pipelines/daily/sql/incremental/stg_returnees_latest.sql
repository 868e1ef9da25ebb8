-- stg_returnees_latest from its own rows of $previous_date (each returnee's latest registration
-- up to then) and the registrations reported after it: a person registered since takes their
-- latest new registration, everyone else stays as they were; then only those still current
-- (as in the full SQL) are kept. New (新增) is decided as in stg_returnee_days: no
-- registration in the `new_window_days` days before, the one before being either an earlier
-- day since $previous_date or their registration as of $previous_date; someone not current
-- then was registered more than the window before, so is new.
WITH fresh AS (
    SELECT
        town_code, community_code, grid_code, person_key, name, id_masked, phone_masked, address, origin,
        arrival_date, measure, measure_start, measure_end, report_date AS registered_on,
        row_number() OVER (PARTITION BY person_key ORDER BY report_date DESC, source_file, source_row) AS latest
    FROM returnees
    WHERE report_date > $previous_date AND report_date <= $report_date
),
fresh_days AS (
    SELECT person_key, report_date, lag(report_date) OVER (PARTITION BY person_key ORDER BY report_date) AS day_before
    FROM (
        SELECT DISTINCT person_key, report_date FROM returnees
        WHERE report_date > $previous_date AND report_date <= $report_date
    ) d
),
previous AS (
    SELECT
        town_code, community_code, grid_code, person_key, name, id_masked, phone_masked, address, origin,
        arrival_date, measure, measure_start, measure_end, registered_on, new_on_registration
    FROM stg_returnees_latest
    WHERE report_date = $previous_date
)
SELECT *
FROM (
    SELECT
        f.town_code, f.community_code, f.grid_code, f.person_key, f.name, f.id_masked, f.phone_masked, f.address,
        f.origin, f.arrival_date, f.measure, f.measure_start, f.measure_end, f.registered_on,
        coalesce(f.registered_on - coalesce(d.day_before, p.registered_on) > $new_window_days, true) AS new_on_registration
    FROM fresh f
    JOIN fresh_days d ON d.person_key = f.person_key AND d.report_date = f.registered_on
    LEFT JOIN previous p ON p.person_key = f.person_key
    WHERE f.latest = 1
    UNION ALL
    SELECT p.*
    FROM previous p
    WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.person_key = p.person_key)
) latest
WHERE registered_on > $report_date - $new_window_days OR measure_end >= $report_date
