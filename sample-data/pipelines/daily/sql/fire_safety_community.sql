-- Fire safety per community (村/社区): the grid figures summed.
SELECT
    town_code, min(town) AS town, community_code, min(community) AS community, count(*) AS grids,
    sum(checks) AS checks, sum(hazard_places) AS hazard_places, sum(ebikes) AS ebikes,
    sum(exits_blocked) AS exits_blocked, sum(hazards_fixed) AS hazards_fixed,
    sum(hazards_open) AS hazards_open, sum(hazards_overdue) AS hazards_overdue
FROM fire_safety_grid
WHERE report_date = $report_date
GROUP BY town_code, community_code
