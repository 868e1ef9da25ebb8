-- Household visits per grid: in today's report, and the households visited over the coverage
-- window (by visit date), for the coverage of the registry's households.
SELECT
    grid_code,
    count(CASE WHEN report_date = $report_date THEN 1 END) AS visits,
    count(DISTINCT CASE
        WHEN visit_date <= $report_date AND $report_date - visit_date < $coverage_days
        THEN concat(coalesce(address, ''), '|', household_head) END) AS households_visited
FROM visits
-- Only the reports that can hold visits of the window (and only their files are read).
WHERE report_date <= $report_date AND $report_date - report_date <= $coverage_days
GROUP BY grid_code
