-- Key persons pushed to a grid in today's report, and how their follow-up went.
SELECT
    grid_code,
    count(*) AS followups_pushed,
    count(CASE WHEN reached OR check_status = '已核实在辖区' THEN 1 END) AS followups_reached,
    count(CASE WHEN reached = false OR check_status IN ('联系不上', '号码错误') THEN 1 END) AS followups_unreachable,
    count(CASE WHEN followup_way IS NULL AND push_date < $report_date THEN 1 END) AS followups_overdue
FROM followups
WHERE report_date = $report_date
GROUP BY grid_code
