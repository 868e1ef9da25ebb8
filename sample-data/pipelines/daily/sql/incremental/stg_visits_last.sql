-- stg_visits_last from its own rows of $previous_date and the visits reported after it: the
-- last visit of each household is the later of the two, and visits dated ahead of the report
-- date stay rows of their own until it reaches them.
WITH visited AS (
    SELECT grid_code, household_head, address, visit_date
    FROM stg_visits_last
    WHERE report_date = $previous_date
    UNION ALL
    SELECT grid_code, household_head, address, visit_date
    FROM visits
    WHERE report_date > $previous_date AND report_date <= $report_date AND visit_date IS NOT NULL
)
SELECT grid_code, household_head, address, max(visit_date) AS visit_date
FROM visited
WHERE visit_date <= $report_date
GROUP BY grid_code, household_head, address
UNION ALL
SELECT DISTINCT grid_code, household_head, address, visit_date
FROM visited
WHERE visit_date > $report_date
