-- Household visits per grid: in today's report, and the households visited over the coverage
-- window (by visit date), for the coverage of the registry's households.
-- Distinct households are counted as distinct (grid, household) rows, not with
-- count(DISTINCT ...) per grid: that kept a hash set per grid outside the engine's memory limit
-- (250 MiB of a 14-district city's peak, heaptrack), where these rows are spillable groups.
WITH window_visits AS (
    SELECT
        grid_code,
        report_date,
        CASE WHEN visit_date <= $report_date AND $report_date - visit_date < $coverage_days
             THEN concat(coalesce(address, ''), '|', household_head) END AS household
    FROM visits
    -- Only the reports that can hold visits of the window (and only their files are read).
    WHERE report_date <= $report_date AND report_date >= $report_date - $coverage_days
),
per_grid AS (
    SELECT grid_code, count(CASE WHEN report_date = $report_date THEN 1 END) AS visits
    FROM window_visits
    GROUP BY grid_code
),
households AS (
    SELECT grid_code, count(*) AS households_visited
    FROM (SELECT DISTINCT grid_code, household FROM window_visits WHERE household IS NOT NULL) d
    GROUP BY grid_code
)
SELECT p.grid_code, p.visits, coalesce(h.households_visited, 0) AS households_visited
FROM per_grid p
LEFT JOIN households h ON h.grid_code IS NOT DISTINCT FROM p.grid_code
