-- Work orders as they stood on the report date: the latest appearance on or before it. Open
-- and overdue orders are counted from here, so a past day's report does not change when an
-- order is closed later.
WITH ranked AS (
    SELECT
        order_id, channel, category, town_code, community_code, grid_code, deadline, status,
        row_number() OVER (
            PARTITION BY order_id ORDER BY report_date DESC, source_file DESC, source_row DESC
        ) AS appearance
    FROM work_orders
    WHERE report_date <= $report_date
)
SELECT order_id, channel, category, town_code, community_code, grid_code, deadline, status
FROM ranked
WHERE appearance = 1
