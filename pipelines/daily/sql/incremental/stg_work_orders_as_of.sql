-- stg_work_orders_as_of from its own rows of $previous_date (each order as it stood then) and
-- the appearances reported after it: an order that appeared since takes its latest appearance,
-- every other order open then stands as it did. Open and overdue are decided again for the
-- report date, and the orders closed since leave.
WITH ranked AS (
    SELECT
        order_id, channel, category, town_code, community_code, grid_code, received_at, deadline, status,
        coalesce(status_stage, 'unknown') AS stage,
        row_number() OVER (
            PARTITION BY order_id ORDER BY report_date DESC, source_file DESC, source_row DESC
        ) AS appearance
    FROM work_orders
    WHERE report_date > $previous_date AND report_date <= $report_date
),
standing AS (
    SELECT order_id, channel, category, town_code, community_code, grid_code, received_at, deadline, status, stage
    FROM ranked
    WHERE appearance = 1
    UNION ALL
    SELECT p.order_id, p.channel, p.category, p.town_code, p.community_code, p.grid_code, p.received_at, p.deadline,
        p.status, p.stage
    FROM stg_work_orders_as_of p
    WHERE p.report_date = $previous_date
      AND NOT EXISTS (SELECT 1 FROM ranked r WHERE r.order_id = p.order_id)
)
SELECT
    order_id, channel, category, town_code, community_code, grid_code, received_at, deadline, status, stage,
    stage NOT IN ('closed', 'cancelled') AS is_open,
    stage IN ('received', 'dispatched', 'in_progress', 'returned', 'unknown')
        AND deadline < CAST($report_date AS DATE) + INTERVAL '1 day' AS is_overdue
FROM standing
WHERE stage NOT IN ('closed', 'cancelled')
