-- People of the special-population register (latest snapshot) not visited within their
-- interval (独居老人 weekly, …). Their last visit is the later of the register's 最近走访日期 and
-- any household visit recorded in the daily visit sheets of their grid for them (the household
-- head's name is theirs, or the address is theirs) on or before the report date.
WITH register AS (
    SELECT * FROM special_population
    WHERE report_date = (SELECT max(report_date) FROM special_population WHERE report_date <= $report_date)
),
visited AS (
    -- (each register person's last visit in the daily sheets: stg_special_visits)
    SELECT row_key, max(visit_date) AS visited_on
    FROM stg_special_visits
    WHERE report_date = $report_date AND visit_date <= $report_date
    GROUP BY row_key
),
latest AS (
    SELECT
        r.*,
        CASE WHEN v.visited_on IS NOT NULL AND (r.last_visit_date IS NULL OR v.visited_on > r.last_visit_date)
            THEN v.visited_on ELSE r.last_visit_date END AS last_visited
    -- (visited on the left: the engine holds a join's left side in memory, and the register is
    -- the larger, 91,000 people in a 14-district city against 8,000 visited)
    FROM visited v
    RIGHT JOIN register r ON v.row_key = r.row_key
)
SELECT
    town_code, community_code, grid_code, category, name,
    concat(substr(name, 1, 1), repeat('*', CAST(CASE WHEN character_length(name) > 2 THEN character_length(name) - 1 ELSE 1 END AS BIGINT)))
        AS name_masked,
    id_masked, visit_interval_days,
    last_visited AS last_visit_date,
    ($report_date - last_visited) - visit_interval_days AS days_overdue
FROM latest
WHERE last_visited IS NOT NULL AND visit_interval_days IS NOT NULL
  AND ($report_date - last_visited) > visit_interval_days
