-- Fire safety per grid: the places checked in the day's reports, those with a hazard, electric
-- bikes indoors, blocked exits and hazards fixed on the day; and, as of the day, hazards still
-- open (a place whose latest check found one not yet fixed) and those past their deadline.
-- Only grids with a check in the last 92 days.
WITH still_open AS (
    SELECT grid_code, count(*) AS hazards_open, count(CASE WHEN fix_deadline < $report_date THEN 1 END) AS hazards_overdue
    FROM stg_fire_places
    WHERE report_date = $report_date AND hazard_place = 1 AND fixed = 0
    GROUP BY grid_code
),
today AS (
    SELECT
        grid_code, count(*) AS checks, sum(hazard_place) AS hazard_places, sum(ebike) AS ebikes,
        sum(exit_blocked) AS exits_blocked, sum(hazard_place * fixed) AS hazards_fixed
    FROM stg_fire_safety
    WHERE report_date = $report_date
    GROUP BY grid_code
),
active AS (
    SELECT grid_code FROM today UNION SELECT grid_code FROM still_open
)
SELECT
    g.town_code, g.town, g.community_code, g.community, g.grid_code, g.grid_name,
    coalesce(t.checks, 0) AS checks, coalesce(t.hazard_places, 0) AS hazard_places,
    coalesce(t.ebikes, 0) AS ebikes, coalesce(t.exits_blocked, 0) AS exits_blocked,
    coalesce(t.hazards_fixed, 0) AS hazards_fixed,
    coalesce(o.hazards_open, 0) AS hazards_open, coalesce(o.hazards_overdue, 0) AS hazards_overdue
FROM active a
JOIN stg_registry g ON g.grid_code = a.grid_code AND g.report_date = $report_date
LEFT JOIN today t ON t.grid_code = a.grid_code
LEFT JOIN still_open o ON o.grid_code = a.grid_code
