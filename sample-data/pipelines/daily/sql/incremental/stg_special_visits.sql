-- stg_special_visits from its own rows of $previous_date and the visits reported after it, for
-- the same register (a new snapshot of it runs the full SQL: `rebuild_on_new`): each person's
-- last visit is the later of the two; visits dated ahead stay rows of their own until then.
-- (The joins and the grouping are the full SQL's, which says why.)
WITH register AS (
    SELECT row_key, grid_code, name, address, last_visit_date FROM special_population
    WHERE report_date = (SELECT max(report_date) FROM special_population WHERE report_date <= $report_date)
),
visited AS (
    SELECT grid_code, household_head, address, visit_date FROM visits
    WHERE report_date > $previous_date AND report_date <= $report_date
),
matched AS (
    SELECT r.grid_code, r.row_key, r.last_visit_date, v.visit_date
    FROM register r
    JOIN visited v ON v.grid_code = r.grid_code AND v.household_head = r.name
    UNION ALL
    SELECT r.grid_code, r.row_key, r.last_visit_date, v.visit_date
    FROM register r
    JOIN visited v ON v.grid_code = r.grid_code AND v.address = r.address
)
SELECT grid_code, row_key, max(visit_date) AS visit_date
FROM (
    SELECT grid_code, row_key, visit_date FROM stg_special_visits WHERE report_date = $previous_date
    UNION ALL
    SELECT grid_code, row_key, visit_date FROM matched WHERE last_visit_date IS NULL OR visit_date > last_visit_date
) seen
GROUP BY grid_code, row_key, CASE WHEN visit_date > $report_date THEN visit_date END
