-- The day's key figures for the district (its towns and the orders of no known grid), each county
-- of a city (区县, `daily_county`), each town, each community (村/社区) and each grid (`scope`), each with yesterday's value, the change since yesterday and the
-- average of the 7 days before (the days whose marts exist: a day the pipeline did not run is
-- not counted as zero). Reports open with these rows, one unit's at a time.
WITH window_days AS (
    SELECT * FROM daily_grid
    WHERE report_date <= $report_date AND report_date >= $report_date - 7
),
community_days AS (
    SELECT * FROM daily_community
    WHERE report_date <= $report_date AND report_date >= $report_date - 7
),
county_days AS (
    SELECT * FROM daily_county
    WHERE report_date <= $report_date AND report_date >= $report_date - 7
),
town_days AS (
    -- Towns, and the 未定网格 row of orders whose grid could not be told (no town_code).
    SELECT * FROM daily_town
    WHERE report_date <= $report_date AND report_date >= $report_date - 7
),
levels AS (
    SELECT
        'district' AS scope, CAST(NULL AS VARCHAR) AS county_code, CAST(NULL AS VARCHAR) AS town_code,
        CAST(NULL AS VARCHAR) AS community_code, CAST(NULL AS VARCHAR) AS grid_code, report_date,
        sum(returnees_new) AS returnees_new, sum(returnees_under_measure) AS returnees_under_measure,
        sum(followups_overdue) AS followups_overdue, sum(followups_unreachable) AS followups_unreachable,
        sum(special_overdue) AS special_overdue, sum(visits) AS visits,
        sum(work_orders_received) AS work_orders_received, sum(work_orders_open) AS work_orders_open,
        sum(work_orders_overdue) AS work_orders_overdue
    FROM town_days
    GROUP BY report_date
    UNION ALL
    SELECT
        'county', county_code, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), report_date,
        returnees_new, returnees_under_measure, followups_overdue, followups_unreachable,
        special_overdue, visits, work_orders_received, work_orders_open, work_orders_overdue
    FROM county_days
    UNION ALL
    SELECT
        'town', CAST(NULL AS VARCHAR), town_code, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), report_date,
        returnees_new, returnees_under_measure, followups_overdue, followups_unreachable,
        special_overdue, visits, work_orders_received, work_orders_open, work_orders_overdue
    FROM town_days
    WHERE town_code IS NOT NULL
    UNION ALL
    SELECT
        'community', CAST(NULL AS VARCHAR), town_code, community_code, CAST(NULL AS VARCHAR), report_date,
        returnees_new, returnees_under_measure, followups_overdue, followups_unreachable,
        special_overdue, visits, work_orders_received, work_orders_open, work_orders_overdue
    FROM community_days
    UNION ALL
    SELECT
        'grid', CAST(NULL AS VARCHAR), town_code, community_code, grid_code, report_date,
        returnees_new, returnees_under_measure, followups_overdue, followups_unreachable,
        special_overdue, visits, work_orders_received, work_orders_open, work_orders_overdue
    FROM window_days
),
figures AS (
    SELECT
        l.scope, l.county_code, l.town_code, l.community_code, l.grid_code, l.report_date, f.position, f.figure,
        CASE f.position
            WHEN 1 THEN l.returnees_new
            WHEN 2 THEN l.returnees_under_measure
            WHEN 3 THEN l.followups_overdue
            WHEN 4 THEN l.followups_unreachable
            WHEN 5 THEN l.special_overdue
            WHEN 6 THEN l.visits
            WHEN 7 THEN l.work_orders_received
            WHEN 8 THEN l.work_orders_open
            WHEN 9 THEN l.work_orders_overdue
        END AS value
    FROM levels l
    CROSS JOIN (VALUES
        (1, '新增来返人员'), (2, '在管来返人员'), (3, '超时未随访'), (4, '联系不上'),
        (5, '特殊人群超期未走访'), (6, '入户走访'), (7, '受理工单'), (8, '在办工单'), (9, '超期工单')
    ) AS f(position, figure)
)
SELECT
    scope, county_code, town_code, community_code, grid_code, CAST(position AS BIGINT) AS position, figure,
    max(CASE WHEN report_date = $report_date THEN value END) AS today,
    max(CASE WHEN report_date = $report_date - INTERVAL '1 day' THEN value END) AS yesterday,
    max(CASE WHEN report_date = $report_date THEN value END)
        - max(CASE WHEN report_date = $report_date - INTERVAL '1 day' THEN value END) AS change,
    round(avg(CASE WHEN report_date < $report_date THEN CAST(value AS DOUBLE) END), 1) AS avg_7d
FROM figures
GROUP BY scope, county_code, town_code, community_code, grid_code, position, figure
HAVING max(CASE WHEN report_date = $report_date THEN 1 END) = 1
