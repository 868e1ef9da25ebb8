-- Work orders as they stand on the report date: an order appears in every daily export while
-- it changes; the appearance with the latest report date wins (its current state).
WITH ranked AS (
    SELECT
        order_id, channel, category, content, town_code, community_code, grid_code, assignee,
        received_at, dispatched_at, closed_at, deadline, time_limit_hours, status,
        report_date AS last_report_date,
        row_number() OVER (
            PARTITION BY order_id ORDER BY report_date DESC, source_file DESC, source_row DESC
        ) AS appearance
    FROM work_orders
    WHERE report_date <= $report_date
)
SELECT
    order_id, channel, category, content, town_code, community_code, grid_code, assignee,
    received_at, dispatched_at, closed_at, deadline, time_limit_hours, status, last_report_date
FROM ranked
WHERE appearance = 1
