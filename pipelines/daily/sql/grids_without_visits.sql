-- Grids of the registry with no household visit (by visit date) in the `idle_grid_days` days up
-- to the report date, with their grid workers from the latest roster. Visits are looked for in
-- the reports of the last 92 days; a grid with none there has no last visit. (`string_agg` with
-- ORDER BY, not `array_agg(… ORDER BY …)`: Ballista's executors refuse the ordered array_agg.)
WITH last_visit AS (
    SELECT grid_code, max(visit_date) AS last_visit
    FROM visits
    WHERE report_date <= $report_date AND report_date >= $report_date - 92 AND visit_date <= $report_date
    GROUP BY grid_code
),
roster AS (
    SELECT grid_code, string_agg(name, '、' ORDER BY name) AS workers
    FROM workers
    WHERE report_date = (SELECT max(report_date) FROM workers WHERE report_date <= $report_date)
      AND grid_code IS NOT NULL
    GROUP BY grid_code
)
SELECT
    g.town_code, g.town, g.community_code, g.community, g.grid_code, g.grid_name, v.last_visit,
    CAST($report_date - v.last_visit AS BIGINT) AS days_without_visit,
    r.workers
FROM (SELECT * FROM stg_registry WHERE report_date = $report_date) g
LEFT JOIN last_visit v ON v.grid_code = g.grid_code
LEFT JOIN roster r ON r.grid_code = g.grid_code
WHERE v.last_visit IS NULL OR $report_date - v.last_visit >= $idle_grid_days
