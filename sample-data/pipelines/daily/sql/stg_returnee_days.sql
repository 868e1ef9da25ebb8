-- Each returnee's registrations, one row per person and report date, with the report date of
-- the registration before it. A person is new (新增) on a day when no report registered them in
-- the `new_window_days` days before it: a community that re-lists its returnees every day does
-- not make them new every day, and someone who left and came back after the window is new again.
-- Only the registrations of the last `trend_days` + `new_window_days` days are read: that decides
-- who is new on each day of the trend exactly (an earlier registration is more than the window
-- before any of them), and days before the trend are not asked for (trend reads this; each
-- returnee's latest registration is stg_returnees_latest, over the whole history).
--
-- The row before a row is found in one sequence of all rows ordered by person, not by a window
-- partitioned by person: DataFusion keeps state for every partition key in a batch, and a city
-- lists thousands of people once each (14 districts: 0.13 s and 130 MB as a query that way,
-- 0.07 s and 111 MB this way; the same rows).
SELECT
    person_key, report_date, town_code, grid_code, previous_on,
    coalesce(report_date - previous_on > $new_window_days, true) AS is_new
FROM (
    SELECT
        person_key, report_date, town_code, grid_code,
        CASE WHEN lag(person_key) OVER listed IS NOT DISTINCT FROM person_key THEN lag(report_date) OVER listed END
            AS previous_on
    FROM (
        -- A person listed twice on one day (two sheets, two grids) counts in the first grid
        -- listed: the first of their rows that day.
        SELECT person_key, report_date, town_code, grid_code
        FROM (
            SELECT
                person_key, report_date, town_code, grid_code,
                lag(person_key) OVER listings AS person_before, lag(report_date) OVER listings AS date_before
            FROM returnees
            WHERE report_date <= $report_date AND report_date > $report_date - ($trend_days + $new_window_days)
            WINDOW listings AS (ORDER BY person_key, report_date, source_file, source_sheet, source_row)
        ) listings
        WHERE (person_before IS DISTINCT FROM person_key) OR (date_before IS DISTINCT FROM report_date)
    ) days
    WINDOW listed AS (ORDER BY person_key, report_date)
) days
