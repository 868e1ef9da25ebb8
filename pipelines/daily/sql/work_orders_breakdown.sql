-- Work orders by town, channel and category, from their state on the report date.
SELECT
    town_code, channel, category,
    count(CASE WHEN CAST(received_at AS DATE) = $report_date THEN 1 END) AS received,
    count(CASE WHEN CAST(closed_at AS DATE) = $report_date THEN 1 END) AS closed,
    count(CASE WHEN status <> '已办结' THEN 1 END) AS open,
    count(CASE WHEN status <> '已办结' AND deadline < $report_date + INTERVAL '1 day' THEN 1 END) AS overdue,
    median(CASE WHEN closed_at IS NOT NULL
        THEN (date_part('epoch', closed_at) - date_part('epoch', received_at)) / 3600.0 END) AS median_hours_to_close
FROM stg_work_orders
GROUP BY town_code, channel, category
