-- Grid workers of the roster (latest snapshot) with no visit and no follow-up in today's reports.
WITH roster AS (
    SELECT * FROM workers
    WHERE report_date = (SELECT max(report_date) FROM workers WHERE report_date <= $report_date)
),
active AS (
    SELECT grid_code, worker FROM visits WHERE report_date = $report_date AND worker IS NOT NULL
    UNION
    SELECT grid_code, worker FROM followups WHERE report_date = $report_date AND worker IS NOT NULL
)
SELECT w.town, w.community, w.grid_code, w.grid_name, w.name, w.role
FROM roster w
WHERE w.grid_code IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM active a WHERE a.grid_code = w.grid_code AND a.worker = w.name)
