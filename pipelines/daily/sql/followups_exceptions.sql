-- Key persons to act on as of the report date: overdue (超时未随访) or unreachable (联系不上),
-- one row each (see stg_followups_people), with the name masked (张*, 欧**) and the grid worker
-- their latest listing names as responsible (the listing stg_followups_people found latest).
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
JOIN followups l
  ON l.row_key = p.row_key AND l.report_date = p.latest_date AND l.source_file = p.latest_file
 AND l.source_sheet = p.latest_sheet AND l.source_row = p.latest_row
 -- (the days stg_followups_people reads: only their files are opened, however long the history)
 AND l.report_date <= $report_date AND l.report_date > $report_date - $followup_days
LEFT JOIN stg_registry g ON g.grid_code = l.grid_code AND g.report_date = $report_date
WHERE p.overdue OR p.unreachable
