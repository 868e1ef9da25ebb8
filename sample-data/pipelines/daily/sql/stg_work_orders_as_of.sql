-- Work orders open as they stood on the report date: the latest appearance on or before it,
-- closed and cancelled orders left out (a year's closed orders are not carried from day to
-- day). Open and overdue orders are counted from here, so a past day's report does not change
-- when an order is closed later. Open and overdue come from the lifecycle stage the form
-- declares for each status (pipelines/forms/work_orders.toml `[stages.status]`), never from a
-- status wording: open until closed or cancelled; overdue while still to be handled past the
-- deadline. Rows written before stages existed have none and count as open.
WITH ranked AS (
    SELECT
        order_id, channel, category, town_code, community_code, grid_code, received_at, deadline, status,
        coalesce(status_stage, 'unknown') AS stage,
        row_number() OVER (
            PARTITION BY order_id ORDER BY report_date DESC, source_file DESC, source_row DESC
        ) AS appearance
    FROM work_orders
    WHERE report_date <= $report_date
)
SELECT
    order_id, channel, category, town_code, community_code, grid_code, received_at, deadline, status, stage,
    stage NOT IN ('closed', 'cancelled') AS is_open,
    stage IN ('received', 'dispatched', 'in_progress', 'returned', 'unknown')
        AND deadline < CAST($report_date AS DATE) + INTERVAL '1 day' AS is_overdue
FROM ranked
WHERE appearance = 1 AND stage NOT IN ('closed', 'cancelled')
