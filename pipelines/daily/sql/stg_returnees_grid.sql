-- Returnees per grid (the grid of their latest registration): new in today's report (registered
-- today and not in the `new_window_days` days before), cumulative, and under each stage of their
-- control measure on the report date. Every count is of distinct people. The cumulative count
-- is of everyone ever registered (stg_returnees_seen); the others need only the returnees still
-- current (stg_returnees_latest), whose grids are among those.
WITH seen AS (
    SELECT grid_code, count(*) AS returnees_cumulative
    FROM stg_returnees_seen
    WHERE report_date = $report_date
    GROUP BY grid_code
),
current AS (
    SELECT
        grid_code,
        count(CASE WHEN registered_on = $report_date AND new_on_registration THEN 1 END) AS returnees_new,
        count(CASE WHEN measure_start <= $report_date AND measure_end >= $report_date THEN 1 END)
            AS returnees_under_measure,
        count(CASE WHEN measure_end = $report_date THEN 1 END) AS measures_ending_today,
        count(CASE WHEN measure_end > $report_date AND measure_end <= $report_date + INTERVAL '3 days' THEN 1 END)
            AS measures_ending_3_days
    FROM stg_returnees_latest
    WHERE report_date = $report_date
    GROUP BY grid_code
)
SELECT
    s.grid_code,
    coalesce(c.returnees_new, 0) AS returnees_new,
    s.returnees_cumulative,
    coalesce(c.returnees_under_measure, 0) AS returnees_under_measure,
    coalesce(c.measures_ending_today, 0) AS measures_ending_today,
    coalesce(c.measures_ending_3_days, 0) AS measures_ending_3_days
FROM seen s
LEFT JOIN current c ON c.grid_code IS NOT DISTINCT FROM s.grid_code
