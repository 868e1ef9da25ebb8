-- Each key person pushed in the `followup_days` days up to the report date, followed across the
-- days' lists (by row_key: the keyed hash of their ID, or of their phone where a list has none):
-- the grid and state of their latest listing, whether any listing up to today records a
-- follow-up (随访方式), and whether they are in today's list. A person pushed yesterday and
-- missing from today's list is still followed: dropped without a follow-up, they are overdue.
-- `latest_date`, `latest_file`, `latest_sheet` and `latest_row` name that latest listing, so
-- that a step wanting more of it (followups_exceptions) joins to it instead of ranking every
-- listing again (a ranking by person holds each person's rows apart: 7 MiB for a 14-district
-- city's 4,533 listings, beyond the memory budget's reach).
WITH listed AS (
    SELECT
        row_key, report_date, push_date, grid_code, followup_way, reached, check_status, source_file, source_sheet,
        source_row
    FROM followups
    WHERE report_date <= $report_date AND $report_date - push_date < $followup_days
      -- A list is reported on or after its push date: the bound on report_date (the partition)
      -- reads only the last `followup_days` days of files, however long the history.
      AND report_date > $report_date - $followup_days
),
person AS (
    SELECT
        row_key,
        min(push_date) AS pushed_on,
        max(report_date) AS last_listed,
        max(CASE WHEN followup_way IS NOT NULL THEN 1 ELSE 0 END) = 1 AS followed_up,
        max(CASE WHEN report_date = $report_date THEN 1 ELSE 0 END) = 1 AS listed_today,
        max(CASE WHEN report_date = $report_date AND (reached OR check_status = '已核实在辖区') THEN 1 ELSE 0 END) = 1
            AS reached_today
    FROM listed
    GROUP BY row_key
),
latest AS (
    SELECT row_key, grid_code, reached, check_status, report_date, source_file, source_sheet, source_row
    FROM (
        SELECT
            row_key, grid_code, reached, check_status, report_date, source_file, source_sheet, source_row,
            row_number() OVER (
                PARTITION BY row_key ORDER BY report_date DESC, source_file, source_sheet, source_row
            ) AS nth
        FROM listed
    ) ranked
    WHERE nth = 1
)
SELECT
    l.grid_code, p.row_key, p.pushed_on, p.last_listed, p.followed_up, p.listed_today, p.reached_today,
    coalesce(l.reached = false OR l.check_status IN ('联系不上', '号码错误'), false) AS unreachable,
    (NOT p.followed_up AND p.pushed_on < $report_date) AS overdue,
    l.report_date AS latest_date, l.source_file AS latest_file, l.source_sheet AS latest_sheet,
    l.source_row AS latest_row
FROM person p
JOIN latest l ON l.row_key = p.row_key
