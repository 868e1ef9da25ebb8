-- Each person of the special-population register in force (its latest snapshot on or before
-- the report date) with their last visit in the daily visit sheets (a visit of their grid to a
-- household whose head is them, or at their address) after the register's own 最近走访日期,
-- on or before the report date. A visit dated after the report date (a sheet dated ahead) is
-- kept as a row of its own, to count from its date on. special_overdue reads this; the step is
-- incremental (sql/incremental/): a year of visits is read once, then a day's.
WITH register AS (
    SELECT row_key, grid_code, name, address, last_visit_date FROM special_population
    WHERE report_date = (SELECT max(report_date) FROM special_population WHERE report_date <= $report_date)
),
matched AS (
    SELECT r.row_key, v.visit_date
    FROM register r
    JOIN visits v
      ON v.grid_code = r.grid_code
     AND (v.household_head = r.name OR (r.address IS NOT NULL AND v.address = r.address))
    WHERE v.report_date <= $report_date
      AND (r.last_visit_date IS NULL OR v.visit_date > r.last_visit_date)
)
SELECT row_key, max(visit_date) AS visit_date FROM matched WHERE visit_date <= $report_date GROUP BY row_key
UNION ALL
SELECT DISTINCT row_key, visit_date FROM matched WHERE visit_date > $report_date
