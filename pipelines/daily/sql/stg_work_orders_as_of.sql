-- Work orders open as they stood on the report date: the latest appearance on or before it,
-- closed and cancelled orders left out (a year's closed orders are not carried from day to
-- day). Open and overdue orders are counted from here, so a past day's report does not change
-- when an order is closed later. Open and overdue come from the lifecycle stage the form
-- declares for each status (pipelines/forms/work_orders.toml `[stages.status]`), never from a
-- status wording: open until closed or cancelled; overdue while still to be handled past the
-- deadline. Rows written before stages existed have none and count as open.
-- The latest appearance by an aggregate, as in stg_work_orders: one appearance per order and
-- report date, so no ranking, whose window operator keeps a slice of every column per order.
WITH listed AS (
    SELECT * FROM work_orders WHERE report_date <= $report_date
),
last_seen AS (
    SELECT order_id, max(report_date) AS report_date FROM listed GROUP BY order_id
),
latest AS (
    SELECT
        w.order_id, w.channel, w.category, w.town_code, w.community_code, w.grid_code, w.received_at, w.deadline,
        w.status, coalesce(w.status_stage, 'unknown') AS stage
    FROM listed w
    JOIN last_seen l ON l.order_id = w.order_id AND l.report_date = w.report_date
)
SELECT
    order_id, channel, category, town_code, community_code, grid_code, received_at, deadline, status, stage,
    stage NOT IN ('closed', 'cancelled') AS is_open,
    stage IN ('received', 'dispatched', 'in_progress', 'returned', 'unknown')
        AND deadline < CAST($report_date AS DATE) + INTERVAL '1 day' AS is_overdue
FROM latest
WHERE stage NOT IN ('closed', 'cancelled')
