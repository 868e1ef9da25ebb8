-- Work orders as last seen: an order appears in every daily export while it changes, and the
-- appearance with the latest report date wins. An order received late on a day may first
-- appear in the next day's export, so counts by date of receipt or closure come from here.
-- Only the orders that appeared in the last `trend_days` days' exports are kept, as last seen
-- among them: the steps reading this count orders received in the trend's days or closed on
-- the report date, and an export lists an order on or after the day it is received and the
-- day it is closed, so an order seen only before the window counts in none of them (and a
-- year's history is not ranked every day to find them).
-- Materialised: the steps that count from it read the history once, not once each.
WITH ranked AS (
    SELECT
        order_id, channel, category, content, town_code, community_code, grid_code, assignee,
        received_at, dispatched_at, closed_at, deadline, time_limit_hours, status, status_stage,
        report_date AS last_report_date,
        row_number() OVER (
            PARTITION BY order_id ORDER BY report_date DESC, source_file DESC, source_row DESC
        ) AS appearance
    FROM work_orders
    WHERE report_date > $report_date - $trend_days
)
SELECT
    order_id, channel, category, content, town_code, community_code, grid_code, assignee,
    received_at, dispatched_at, closed_at, deadline, time_limit_hours, status, status_stage,
    last_report_date
FROM ranked
WHERE appearance = 1
