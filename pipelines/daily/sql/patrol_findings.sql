-- What the inspection teams found on the day, one row per point with a problem or with the
-- 三件套 not (fully) in place, and how it was handled: a grid's report lists what was found in
-- it, so the grid worker follows it up.
SELECT
    p.town_code, p.community_code, p.grid_code, g.community, g.grid_name, p.team, p.checkpoint,
    p.three_items, p.problems, p.problem, p.handling, p.patrol_date
FROM patrols p
LEFT JOIN stg_registry g ON g.grid_code = p.grid_code AND g.report_date = $report_date
WHERE p.report_date = $report_date
  AND (p.problems > 0 OR p.three_items IN ('部分落实', '未落实') OR (p.problem IS NOT NULL AND p.problem NOT IN ('无', '/')))
