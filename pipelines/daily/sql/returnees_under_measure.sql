-- The people a grid worker follows up today: returnees whose control measure runs on the report
-- date, with masked ID and phone, newest arrivals first in the grid report.
SELECT
    town_code, community_code, grid_code, name, id_masked, phone_masked, address, origin,
    arrival_date, measure, measure_start, measure_end
FROM (
    SELECT *, row_number() OVER (PARTITION BY person_key ORDER BY report_date DESC, source_file, source_row) AS latest
    FROM returnees
    WHERE report_date <= $report_date
) r
WHERE latest = 1 AND measure_start <= $report_date AND measure_end >= $report_date
