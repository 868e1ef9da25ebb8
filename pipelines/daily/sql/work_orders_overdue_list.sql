-- Work orders overdue as they stood on the report date (see stg_work_orders_as_of), one row
-- each, with how long past the deadline they are at the end of the day: the oldest first in the
-- reports.
SELECT
    o.town_code, o.community_code, o.grid_code, g.community, coalesce(g.grid_name, '未定网格') AS grid_name,
    o.order_id, o.channel, o.category, o.status, o.received_at, o.deadline,
    CAST(floor(
        (date_part('epoch', CAST(CAST($report_date AS DATE) + INTERVAL '1 day' AS TIMESTAMP)) - date_part('epoch', o.deadline))
        / 3600
    ) AS BIGINT) AS hours_overdue
FROM stg_work_orders_as_of o
LEFT JOIN stg_registry g ON g.grid_code = o.grid_code AND g.report_date = $report_date
WHERE o.report_date = $report_date AND o.is_overdue
