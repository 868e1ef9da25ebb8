-- Each household's last visit (by visit date) on or before the report date, as the daily visit
-- sheets reported it up to that date: one row per grid, household head and address. A visit
-- dated after the report date (a sheet dated ahead) is kept as its own row, to count from its
-- date on. special_overdue reads this instead of every visit of the history, and the step is
-- incremental (sql/incremental/stg_visits_last.sql): a year's history costs a day's rows.
SELECT grid_code, household_head, address, max(visit_date) AS visit_date
FROM visits
WHERE report_date <= $report_date AND visit_date <= $report_date
GROUP BY grid_code, household_head, address
UNION ALL
SELECT DISTINCT grid_code, household_head, address, visit_date
FROM visits
WHERE report_date <= $report_date AND visit_date > $report_date
