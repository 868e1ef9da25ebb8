-- The whole workspace's figures (the district's, or a city's) on each of the 8 days up to the
-- report date (`day`), summed from its towns and the orders of no known grid (daily_town):
-- headline's district row. Its code is null: the row is no county's, so `headline`, run one
-- county at a time, reads it in its run over the rows of no county (pipeline.toml).
SELECT
    CAST(NULL AS VARCHAR) AS county_code, report_date AS day,
    sum(returnees_new) AS returnees_new, sum(returnees_under_measure) AS returnees_under_measure,
    sum(followups_overdue) AS followups_overdue, sum(followups_unreachable) AS followups_unreachable,
    sum(special_overdue) AS special_overdue, sum(visits) AS visits,
    sum(work_orders_received) AS work_orders_received, sum(work_orders_open) AS work_orders_open,
    sum(work_orders_overdue) AS work_orders_overdue
FROM daily_town
WHERE report_date <= $report_date AND report_date >= $report_date - 7
GROUP BY report_date
