-- Work orders as last seen: an order appears in every daily export while it changes, and the
-- appearance with the latest report date wins. An order received late on a day may first
-- appear in the next day's export, so counts by date of receipt or closure come from here.
-- Only the orders that appeared in the last `trend_days` days' exports are kept, as last seen
-- among them: the steps reading this count orders received in the trend's days or closed on
-- the report date, and an export lists an order on or after the day it is received and the
-- day it is closed, so an order seen only before the window counts in none of them (and a
-- year's history is not ranked every day to find them).
-- Materialised: the steps that count from it read the history once, not once each.
-- By an aggregate, not by ranking: the form keeps one appearance per order and report date
-- (dedup = "order_id"; if a form changes that, the unique check in pipeline.toml fails), so
-- the last seen is the one on the order's last date. DataFusion's window operator keeps a
-- slice of every column it carries for each order in a batch (see stg_returnees_latest).
WITH seen AS (
    -- No upper bound on purpose: a day run again once later exports are in counts the orders
    -- received that day that first appeared in them (truth.json counts them; bounded, the
    -- sample's 2022-05-08 lost one order of a grid when run after the 9th was ingested).
    SELECT * FROM work_orders WHERE report_date > $report_date - $trend_days
),
last_seen AS (
    SELECT order_id, max(report_date) AS last_report_date FROM seen GROUP BY order_id
)
SELECT
    s.order_id, s.channel, s.category, s.content, s.town_code, s.community_code, s.grid_code, s.assignee,
    s.received_at, s.dispatched_at, s.closed_at, s.deadline, s.time_limit_hours, s.status, s.status_stage,
    l.last_report_date
FROM seen s
JOIN last_seen l ON l.order_id = s.order_id AND l.last_report_date = s.report_date
