-- Each returnee (by person_key) as last registered on or before the report date: where they
-- live and their control measure. Written once per run, so the returnee measures and the grid
-- workers' list read the registrations once.
SELECT
    town_code, community_code, grid_code, person_key, name, id_masked, phone_masked, address, origin,
    arrival_date, measure, measure_start, measure_end, registered_on
FROM (
    SELECT
        town_code, community_code, grid_code, person_key, name, id_masked, phone_masked, address, origin,
        arrival_date, measure, measure_start, measure_end, report_date AS registered_on,
        row_number() OVER (PARTITION BY person_key ORDER BY report_date DESC, source_file, source_row) AS latest
    FROM returnees
    WHERE report_date <= $report_date
) r
WHERE latest = 1
