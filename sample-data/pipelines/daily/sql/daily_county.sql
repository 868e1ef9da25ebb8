-- The town figures summed per county (区县) of a city's workspace: a town's 9-digit code begins
-- with its county's 6 (GB/T 10114), so no registry needs a county column. A workspace of one
-- district lists none: its district report is its county's. Orders of no known grid (未定网格)
-- are no county's, as they are no town's; the city's report shows them.
WITH towns AS (
    SELECT substr(town_code, 1, 6) AS county_code, *
    FROM daily_town
    WHERE report_date = $report_date AND town_code IS NOT NULL
)
SELECT
    county_code,
    count(*) AS towns, sum(communities) AS communities, sum(grids) AS grids, sum(households) AS households,
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
FROM towns
WHERE (SELECT count(DISTINCT county_code) FROM towns) > 1
GROUP BY county_code
