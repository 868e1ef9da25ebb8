-- The people a grid worker follows up today: returnees whose control measure (as last
-- registered) runs on the report date, with masked ID and phone.
SELECT
    town_code, community_code, grid_code, name, id_masked, phone_masked, address, origin,
    arrival_date, measure, measure_start, measure_end
FROM stg_returnees_latest
WHERE report_date = $report_date AND measure_start <= $report_date AND measure_end >= $report_date
