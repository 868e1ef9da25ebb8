-- Work orders by town, channel and category: received and closed on the report date (as last
-- seen), open and overdue as they stood on it. Orders whose grid could not be told have no town.
WITH flow AS (
    SELECT
        town_code, channel, category,
        count(CASE WHEN CAST(received_at AS DATE) = $report_date THEN 1 END) AS received,
        count(CASE WHEN CAST(closed_at AS DATE) = $report_date THEN 1 END) AS closed,
        -- to a tenth of an hour: a report has no use for more, and the last bits of a float
        -- median may differ between engines
        round(median(CASE WHEN CAST(closed_at AS DATE) = $report_date
            THEN (date_part('epoch', closed_at) - date_part('epoch', received_at)) / 3600.0 END), 1)
            AS median_hours_to_close
    FROM stg_work_orders
    WHERE report_date = $report_date
    GROUP BY town_code, channel, category
),
standing AS (
    SELECT
        town_code, channel, category,
        count(CASE WHEN is_open THEN 1 END) AS open,
        count(CASE WHEN is_overdue THEN 1 END) AS overdue
    FROM stg_work_orders_as_of
    WHERE report_date = $report_date
    GROUP BY town_code, channel, category
)
SELECT
    coalesce(f.town_code, s.town_code) AS town_code,
    coalesce(t.town, '未定网格') AS town,
    coalesce(f.channel, s.channel) AS channel,
    coalesce(f.category, s.category) AS category,
    coalesce(f.received, 0) AS received,
    coalesce(f.closed, 0) AS closed,
    coalesce(s.open, 0) AS open,
    coalesce(s.overdue, 0) AS overdue,
    f.median_hours_to_close
FROM flow f
FULL OUTER JOIN standing s
    ON (s.town_code IS NOT DISTINCT FROM f.town_code)
   AND (s.channel IS NOT DISTINCT FROM f.channel)
   AND (s.category IS NOT DISTINCT FROM f.category)
LEFT JOIN (SELECT town_code, min(town) AS town FROM stg_registry WHERE report_date = $report_date GROUP BY town_code) t
    ON t.town_code = coalesce(f.town_code, s.town_code)
WHERE coalesce(f.received, 0) + coalesce(f.closed, 0) + coalesce(s.open, 0) > 0
