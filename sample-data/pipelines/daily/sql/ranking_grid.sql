-- Grids ranked within their town: by visit coverage (highest first) and by overdue work orders
-- (most first), for leadership's 排名.
SELECT
    town_code, town, community, grid_code, grid_name, visit_coverage, work_orders_overdue,
    rank() OVER (PARTITION BY town_code ORDER BY coalesce(visit_coverage, 0) DESC) AS coverage_rank,
    rank() OVER (PARTITION BY town_code ORDER BY work_orders_overdue DESC) AS overdue_rank
FROM daily_grid
WHERE report_date = $report_date
