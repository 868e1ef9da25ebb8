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
visited AS (
    SELECT grid_code, household_head, address, visit_date FROM visits WHERE report_date <= $report_date
),
matched AS (
    -- A visit to them by name, and one at their address, as two joins on equal keys: one join
    -- on the grid with either condition compared every visit of a grid with every person of it
    -- (0.16 s of a 14-district city's 0.2 s). A visit found both ways counts once below.
    SELECT r.grid_code, r.row_key, r.last_visit_date, v.visit_date
    FROM register r
    JOIN visited v ON v.grid_code = r.grid_code AND v.household_head = r.name
    UNION ALL
    SELECT r.grid_code, r.row_key, r.last_visit_date, v.visit_date
    FROM register r
    JOIN visited v ON v.grid_code = r.grid_code AND v.address = r.address
)
-- Each person's last visit on or before the report date, and each visit dated after it, in one
-- pass: the later visits are grouped by their own date. (grid_code, the person's grid in the
-- register, places the row in its county: the step runs one county at a time, pipeline.toml.)
SELECT grid_code, row_key, max(visit_date) AS visit_date
FROM matched
WHERE last_visit_date IS NULL OR visit_date > last_visit_date
GROUP BY grid_code, row_key, CASE WHEN visit_date > $report_date THEN visit_date END
