-- The grid figures summed per town (镇/街道), and a 未定网格 row for the work orders whose grid
-- could not be told (no town_code: it is no town's, and only the district's report shows it), so
-- that the district, the sum of these rows, loses no order.
SELECT
    town_code, min(town) AS town,
    count(DISTINCT community_code) AS communities, count(*) AS grids, sum(households) AS households,
    sum(returnees_new) AS returnees_new, sum(returnees_cumulative) AS returnees_cumulative,
    sum(returnees_under_measure) AS returnees_under_measure,
    sum(measures_ending_today) AS measures_ending_today, sum(measures_ending_3_days) AS measures_ending_3_days,
    sum(followups_pushed) AS followups_pushed, sum(followups_reached) AS followups_reached,
    sum(followups_unreachable) AS followups_unreachable, sum(followups_overdue) AS followups_overdue,
    sum(special_overdue) AS special_overdue,
    sum(visits) AS visits, sum(households_visited) AS households_visited,
    round(sum(households_visited) * 1.0 / sum(households), 4) AS visit_coverage,
    sum(work_orders_received) AS work_orders_received, sum(work_orders_dispatched) AS work_orders_dispatched,
    sum(work_orders_closed) AS work_orders_closed, sum(work_orders_open) AS work_orders_open,
    sum(work_orders_overdue) AS work_orders_overdue
FROM daily_grid
WHERE report_date = $report_date
GROUP BY town_code
UNION ALL
SELECT
    CAST(NULL AS VARCHAR) AS town_code, '未定网格' AS town,
    0 AS communities, 0 AS grids, 0 AS households,
    0 AS returnees_new, 0 AS returnees_cumulative, 0 AS returnees_under_measure,
    0 AS measures_ending_today, 0 AS measures_ending_3_days,
    0 AS followups_pushed, 0 AS followups_reached, 0 AS followups_unreachable, 0 AS followups_overdue,
    0 AS special_overdue, 0 AS visits, 0 AS households_visited, CAST(NULL AS DOUBLE) AS visit_coverage,
    work_orders_received, work_orders_dispatched, work_orders_closed, work_orders_open, work_orders_overdue
FROM stg_work_orders_grid
WHERE grid_code IS NULL
