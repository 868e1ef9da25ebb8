-- Returnees per grid (the grid of their latest registration): new in today's report (registered
-- today and not in the `new_window_days` days before), cumulative, and under each stage of their
-- control measure on the report date. Every count is of distinct people.
SELECT
    grid_code,
    count(CASE WHEN registered_on = $report_date AND new_on_registration THEN 1 END) AS returnees_new,
    count(*) AS returnees_cumulative,
    count(CASE WHEN measure_start <= $report_date AND measure_end >= $report_date THEN 1 END)
        AS returnees_under_measure,
    count(CASE WHEN measure_end = $report_date THEN 1 END) AS measures_ending_today,
    count(CASE WHEN measure_end > $report_date AND measure_end <= $report_date + INTERVAL '3 days' THEN 1 END)
        AS measures_ending_3_days
FROM stg_returnees_latest
WHERE report_date = $report_date
GROUP BY grid_code
