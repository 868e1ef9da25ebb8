-- Fire hazards still open as of the report date, one row per place: its latest check found a
-- hazard not yet fixed. A household's name is masked (张*); a shop's or a firm's is shown.
SELECT
    l.town_code, l.community_code, l.grid_code, g.community, g.grid_name,
    CASE
        WHEN l.place_kind IN ('九小场所', '沿街商铺', '企业') THEN l.place
        WHEN l.place IS NULL THEN NULL
        ELSE concat(substr(l.place, 1, 1), repeat('*', CAST(CASE WHEN character_length(l.place) > 2 THEN character_length(l.place) - 1 ELSE 1 END AS BIGINT)))
    END AS place_shown,
    l.place_kind, l.address, l.hazard, l.check_date AS checked_on, l.fix_deadline,
    CAST(CASE WHEN l.fix_deadline < $report_date THEN $report_date - l.fix_deadline END AS BIGINT) AS days_overdue,
    l.inspector
FROM (SELECT * FROM stg_fire_places WHERE report_date = $report_date) l
LEFT JOIN stg_registry g ON g.grid_code = l.grid_code AND g.report_date = $report_date
WHERE l.hazard_place = 1 AND l.fixed = 0
