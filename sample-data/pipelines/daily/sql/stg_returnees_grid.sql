-- Returnees per grid: registered in today's report, cumulative, and under each stage of their
-- control measure on the report date.
SELECT
    grid_code,
    count(DISTINCT CASE WHEN report_date = $report_date THEN person_key END) AS returnees_new,
    count(DISTINCT person_key) AS returnees_cumulative,
    count(DISTINCT CASE WHEN measure_start <= $report_date AND measure_end >= $report_date THEN person_key END)
        AS returnees_under_measure,
    count(DISTINCT CASE WHEN measure_end = $report_date THEN person_key END) AS measures_ending_today,
    count(DISTINCT CASE WHEN measure_end > $report_date AND measure_end <= $report_date + INTERVAL '3 days'
        THEN person_key END) AS measures_ending_3_days
FROM returnees
WHERE report_date <= $report_date
GROUP BY grid_code
