-- The last `trend_days` days per town: new returnees and key persons listed (people, not rows),
-- visits and work orders received, one row per town and day (zero on days without any).
WITH days AS (
    -- (the series is cut to the parameter, as a series takes literals only; and unnested from
    -- the array function, as the table function cannot travel in a Ballista plan)
    SELECT CAST(CAST(CAST($report_date AS INT) - value AS INT) AS DATE) AS day
    FROM (SELECT unnest(generate_series(0, 366)) AS value) series
    WHERE value < $trend_days
),
towns AS (SELECT DISTINCT town_code, town FROM stg_registry WHERE report_date = $report_date),
returnees_by_day AS (
    -- People new that day, by the same rule as 新增 (stg_returnee_days).
    SELECT town_code, report_date AS day, count(*) AS n FROM stg_returnee_days
    WHERE is_new AND report_date > $report_date - $trend_days
    GROUP BY town_code, report_date
),
followups_by_day AS (
    -- People (row_key: their ID's or phone's key) in that day's follow-up lists.
    SELECT town_code, report_date AS day, count(DISTINCT row_key) AS n FROM followups
    WHERE report_date <= $report_date AND report_date > $report_date - $trend_days
    GROUP BY town_code, report_date
),
visits_by_day AS (
    SELECT town_code, report_date AS day, count(*) AS n FROM visits
    WHERE report_date <= $report_date AND report_date > $report_date - $trend_days
    GROUP BY town_code, report_date
),
orders_by_day AS (
    SELECT town_code, CAST(received_at AS DATE) AS day, count(*) AS n FROM stg_work_orders
    WHERE report_date = $report_date
    GROUP BY town_code, CAST(received_at AS DATE)
)
SELECT
    t.town_code, t.town, d.day,
    coalesce(r.n, 0) AS returnees_new,
    coalesce(f.n, 0) AS followups_pushed,
    coalesce(v.n, 0) AS visits,
    coalesce(o.n, 0) AS work_orders_received
FROM towns t
CROSS JOIN days d
LEFT JOIN returnees_by_day r ON r.town_code = t.town_code AND r.day = d.day
LEFT JOIN followups_by_day f ON f.town_code = t.town_code AND f.day = d.day
LEFT JOIN visits_by_day v ON v.town_code = t.town_code AND v.day = d.day
LEFT JOIN orders_by_day o ON o.town_code = t.town_code AND o.day = d.day
