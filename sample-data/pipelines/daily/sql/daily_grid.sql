-- Every grid of the registry with every daily measure (zero where nothing happened).
SELECT
    g.town_code, g.town, g.community_code, g.community, g.grid_code, g.grid_name, g.households,
    coalesce(r.returnees_new, 0) AS returnees_new,
    coalesce(r.returnees_cumulative, 0) AS returnees_cumulative,
    coalesce(r.returnees_under_measure, 0) AS returnees_under_measure,
    coalesce(r.measures_ending_today, 0) AS measures_ending_today,
    coalesce(r.measures_ending_3_days, 0) AS measures_ending_3_days,
    coalesce(f.followups_pushed, 0) AS followups_pushed,
    coalesce(f.followups_reached, 0) AS followups_reached,
    coalesce(f.followups_unreachable, 0) AS followups_unreachable,
    coalesce(f.followups_overdue, 0) AS followups_overdue,
    coalesce(s.special_overdue, 0) AS special_overdue,
    coalesce(v.visits, 0) AS visits,
    coalesce(v.households_visited, 0) AS households_visited,
    CASE WHEN g.households > 0 THEN round(coalesce(v.households_visited, 0) * 1.0 / g.households, 4) END
        AS visit_coverage,
    coalesce(w.work_orders_received, 0) AS work_orders_received,
    coalesce(w.work_orders_dispatched, 0) AS work_orders_dispatched,
    coalesce(w.work_orders_closed, 0) AS work_orders_closed,
    coalesce(w.work_orders_open, 0) AS work_orders_open,
    coalesce(w.work_orders_overdue, 0) AS work_orders_overdue,
    w.median_hours_to_close
FROM (SELECT * FROM stg_registry WHERE report_date = $report_date) g
LEFT JOIN stg_returnees_grid r ON r.grid_code = g.grid_code
LEFT JOIN stg_followups_grid f ON f.grid_code = g.grid_code
LEFT JOIN stg_visits_grid v ON v.grid_code = g.grid_code
LEFT JOIN stg_work_orders_grid w ON w.grid_code = g.grid_code
LEFT JOIN (
    SELECT grid_code, count(*) AS special_overdue FROM special_overdue
    WHERE report_date = $report_date GROUP BY grid_code
) s ON s.grid_code = g.grid_code
