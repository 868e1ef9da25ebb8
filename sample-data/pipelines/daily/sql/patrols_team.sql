-- The inspection teams' day (专属网格巡查): per team, the points checked and grids covered, the
-- 三件套 not (fully) in place, freight vehicles and returnees checked, problems found, and those
-- handed to the grid. A team's town is the town of the grids it patrolled (its first, by code,
-- should a team cross towns).
SELECT
    min(town_code) AS town_code, team,
    count(*) AS stops, count(DISTINCT grid_code) AS grids,
    count(CASE WHEN three_items IN ('部分落实', '未落实') THEN 1 END) AS three_items_failed,
    sum(freight_checked) AS freight_checked, sum(freight_issues) AS freight_issues,
    sum(returnees_checked) AS returnees_checked, sum(problems) AS problems,
    count(CASE WHEN handling = '移交网格' THEN 1 END) AS handed_to_grids
FROM patrols
WHERE report_date = $report_date
GROUP BY team
