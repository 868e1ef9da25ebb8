-- Work orders per grid: received, dispatched and closed on the report date (by their times, as
-- last seen), and open or overdue as they stood on the report date. Orders whose grid could not
-- be told make one row with no grid_code (未定网格, see daily_town).
WITH flow AS (
    SELECT
        grid_code,
        count(CASE WHEN CAST(received_at AS DATE) = $report_date THEN 1 END) AS work_orders_received,
        count(CASE WHEN CAST(dispatched_at AS DATE) = $report_date THEN 1 END) AS work_orders_dispatched,
        count(CASE WHEN CAST(closed_at AS DATE) = $report_date THEN 1 END) AS work_orders_closed,
        -- to a tenth of an hour: a report has no use for more, and the last bits of a float
        -- median may differ between engines
        round(median(CASE WHEN CAST(closed_at AS DATE) = $report_date
            THEN (date_part('epoch', closed_at) - date_part('epoch', received_at)) / 3600.0 END), 1)
            AS median_hours_to_close
    FROM stg_work_orders
    WHERE report_date = $report_date
    GROUP BY grid_code
),
standing AS (
    SELECT
        grid_code,
        count(CASE WHEN is_open THEN 1 END) AS work_orders_open,
        count(CASE WHEN is_overdue THEN 1 END)
            AS work_orders_overdue
    FROM stg_work_orders_as_of
    WHERE report_date = $report_date
    GROUP BY grid_code
)
SELECT
    coalesce(f.grid_code, s.grid_code) AS grid_code,
    coalesce(f.work_orders_received, 0) AS work_orders_received,
    coalesce(f.work_orders_dispatched, 0) AS work_orders_dispatched,
    coalesce(f.work_orders_closed, 0) AS work_orders_closed,
    coalesce(s.work_orders_open, 0) AS work_orders_open,
    coalesce(s.work_orders_overdue, 0) AS work_orders_overdue,
    f.median_hours_to_close
FROM flow f
FULL OUTER JOIN standing s ON s.grid_code IS NOT DISTINCT FROM f.grid_code
