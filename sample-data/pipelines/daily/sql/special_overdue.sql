-- People of the special-population register (latest snapshot) not visited within their
-- interval (独居老人 weekly, …): days since the last visit on the register beyond the interval.
WITH register AS (
    SELECT * FROM special_population
    WHERE report_date = (SELECT max(report_date) FROM special_population WHERE report_date <= $report_date)
)
SELECT
    town_code, community_code, grid_code, category, name, id_masked, visit_interval_days, last_visit_date,
    ($report_date - last_visit_date) - visit_interval_days AS days_overdue
FROM register
WHERE last_visit_date IS NOT NULL AND visit_interval_days IS NOT NULL
  AND ($report_date - last_visit_date) > visit_interval_days
