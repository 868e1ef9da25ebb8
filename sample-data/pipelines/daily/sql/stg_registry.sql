-- The grid registry in force on the report date: the latest 网格台账 snapshot on or before it,
-- one row per grid (its sub-grids counted).
SELECT
    substr(community_code, 1, 9) AS town_code,
    min(town) AS town,
    community_code,
    min(community) AS community,
    grid_code,
    min(grid_name) AS grid_name,
    max(households) AS households,
    count(*) AS sub_grids
FROM grids
WHERE report_date = (SELECT max(report_date) FROM grids WHERE report_date <= $report_date)
GROUP BY community_code, grid_code
