-- Key persons to act on as of the report date: overdue (超时未随访) or unreachable (联系不上),
-- one row each (see stg_followups_people), with the name masked (张*, 欧**) and the grid worker
-- their latest listing names as responsible.
WITH latest AS (
    SELECT row_key, name, phone_masked, category, worker, town_code, community_code, grid_code
    FROM (
        SELECT
            row_key, name, phone_masked, category, worker, town_code, community_code, grid_code,
            row_number() OVER (PARTITION BY row_key ORDER BY report_date DESC, source_file, source_row) AS nth
        FROM followups
        WHERE report_date <= $report_date AND $report_date - push_date < $followup_days
          -- A list is reported on or after its push date: the bound on report_date (the partition)
          -- reads only the last `followup_days` days of files, however long the history.
          AND report_date > $report_date - $followup_days
    ) ranked
    WHERE nth = 1
)
SELECT
    l.town_code, l.community_code, l.grid_code, g.community, g.grid_name,
    concat(substr(l.name, 1, 1), repeat('*', CAST(CASE WHEN character_length(l.name) > 2 THEN character_length(l.name) - 1 ELSE 1 END AS BIGINT)))
        AS name_masked,
    l.phone_masked, l.category, p.pushed_on,
    CAST($report_date - p.pushed_on AS BIGINT) AS days_since_push,
    CASE
        WHEN p.overdue AND p.unreachable THEN '超时未随访、联系不上'
        WHEN p.overdue THEN '超时未随访'
        ELSE '联系不上'
    END AS issue,
    l.worker
FROM (SELECT * FROM stg_followups_people WHERE report_date = $report_date) p
JOIN latest l ON l.row_key = p.row_key
LEFT JOIN stg_registry g ON g.grid_code = l.grid_code AND g.report_date = $report_date
WHERE p.overdue OR p.unreachable
