-- Each returnee's registrations, one row per person and report date, with the report date of
-- the registration before it. A person is new (新增) on a day when no report registered them in
-- the `new_window_days` days before it: a community that re-lists its returnees every day does
-- not make them new every day, and someone who left and came back after the window is new again.
-- Only the registrations of the last `trend_days` + `new_window_days` days are read: that decides
-- who is new on each day of the trend exactly (an earlier registration is more than the window
-- before any of them), and days before the trend are not asked for (trend reads this; each
-- returnee's latest registration is stg_returnees_latest, over the whole history).
SELECT
    person_key, report_date, town_code, grid_code,
    lag(report_date) OVER (PARTITION BY person_key ORDER BY report_date) AS previous_on,
    coalesce(
        report_date - lag(report_date) OVER (PARTITION BY person_key ORDER BY report_date) > $new_window_days,
        true
    ) AS is_new
FROM (
    -- A person listed twice on one day (two sheets, two grids) counts in the first grid listed.
    SELECT person_key, report_date, town_code, grid_code
    FROM (
        SELECT
            person_key, report_date, town_code, grid_code,
            row_number() OVER (PARTITION BY person_key, report_date ORDER BY source_file, source_row) AS nth
        FROM returnees
        WHERE report_date <= $report_date AND report_date > $report_date - ($trend_days + $new_window_days)
    ) listed
    WHERE nth = 1
) days
