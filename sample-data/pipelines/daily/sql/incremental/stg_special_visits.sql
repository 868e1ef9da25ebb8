-- stg_special_visits from its own rows of $previous_date and the visits reported after it, for
-- the same register (a new snapshot of it runs the full SQL: `rebuild_on_new`): each person's
-- last visit is the later of the two; visits dated ahead stay rows of their own until then.
WITH register AS (
    SELECT row_key, grid_code, name, address, last_visit_date FROM special_population
    WHERE report_date = (SELECT max(report_date) FROM special_population WHERE report_date <= $report_date)
),
matched AS (
    SELECT row_key, visit_date FROM stg_special_visits WHERE report_date = $previous_date
    UNION ALL
    SELECT r.row_key, v.visit_date
    FROM register r
    JOIN visits v
      ON v.grid_code = r.grid_code
     AND (v.household_head = r.name OR (r.address IS NOT NULL AND v.address = r.address))
    WHERE v.report_date > $previous_date AND v.report_date <= $report_date
      AND (r.last_visit_date IS NULL OR v.visit_date > r.last_visit_date)
)
SELECT row_key, max(visit_date) AS visit_date FROM matched WHERE visit_date <= $report_date GROUP BY row_key
UNION ALL
SELECT DISTINCT row_key, visit_date FROM matched WHERE visit_date > $report_date
