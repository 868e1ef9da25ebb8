-- stg_fire_places from its own rows of $previous_date and the checks reported after it: a place
-- checked since takes its latest new check (the same order as the full SQL), every other place
-- keeps its check while the report that carried it is still in the 92 days up to the report
-- date. A place whose kept check left the window has no check in it at all (that check was its
-- latest), so leaving it out is what the full SQL does. Places are matched as the full SQL's
-- PARTITION BY matches them: a blank grid or address is one place.
WITH fresh AS (
    SELECT
        s.*,
        s.report_date AS reported_on,
        row_number() OVER (
            PARTITION BY grid_code, address
            ORDER BY report_date DESC, check_date DESC, source_file, source_sheet, source_row
        ) AS nth
    FROM stg_fire_safety s
    WHERE s.report_date > $previous_date
)
SELECT *
FROM fresh
WHERE nth = 1
UNION ALL
SELECT
    p.reported_on AS report_date, p.check_date, p.town_code, p.community_code, p.grid_code, p.address, p.place,
    p.place_kind, p.inspector, p.fix_way, p.fix_deadline, p.source_file, p.source_sheet, p.source_row,
    p.hazard, p.ebike, p.exit_blocked, p.hazard_place, p.fixed, p.reported_on, p.nth
FROM stg_fire_places p
WHERE p.report_date = $previous_date
    AND p.reported_on >= $report_date - 92
    AND NOT EXISTS (
        SELECT 1 FROM fresh f
        WHERE (f.grid_code IS NOT DISTINCT FROM p.grid_code) AND (f.address IS NOT DISTINCT FROM p.address)
    )
