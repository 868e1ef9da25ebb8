-- Key persons per grid (the grid of their latest listing), each counted once: in today's list,
-- reached today, unreachable as last listed, and overdue (pushed before today, more than 24 hours,
-- with no follow-up recorded in any list since, whether or not today's list still has them).
SELECT
    grid_code,
    count(CASE WHEN listed_today THEN 1 END) AS followups_pushed,
    count(CASE WHEN reached_today THEN 1 END) AS followups_reached,
    count(CASE WHEN unreachable THEN 1 END) AS followups_unreachable,
    count(CASE WHEN overdue THEN 1 END) AS followups_overdue
FROM stg_followups_people
WHERE report_date = $report_date
GROUP BY grid_code
