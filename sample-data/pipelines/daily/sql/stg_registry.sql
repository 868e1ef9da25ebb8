-- The grid registry in force on the report date, one row per grid (its sub-grids counted). A
-- registry is kept by county (区县: the first six digits of a grid's national code; grids
-- whose codes are no county's, derived from names or an office's own, together): each county's
-- grids are those of its latest 网格台账 snapshot on or before the date that covered it
-- (registry_scope 'district'; files from before scopes existed have none and were always whole),
-- with every later community-only update laid over it: such a community takes its grids from its
-- own latest update, the others keep the snapshot's. So one district of a city sending its
-- registry replaces its own grids, and no other district's. The same rule as
-- `Warehouse::registry` in the ingest (`normalize::in_force`); the split run of this step (one
-- county at a time) gives the same rows as the whole city.
WITH coded AS (
    SELECT *, substr(coalesce(grid_code, sub_grid_code, community_code), 1, 6) AS county
    FROM grids
    WHERE report_date <= $report_date
),
dated AS (
    SELECT *,
        coalesce(registry_scope, 'district') AS snapshot_scope,
        CASE WHEN length(county) = 6 AND ltrim(county, '0123456789') = '' THEN county ELSE '' END AS part
    FROM coded
),
base AS (
    SELECT part, max(report_date) AS report_date
    FROM dated
    WHERE snapshot_scope = 'district'
    GROUP BY part
),
updates AS (
    SELECT d.part, d.community_code, max(d.report_date) AS report_date
    FROM dated d
    LEFT JOIN base b ON b.part = d.part
    WHERE d.snapshot_scope = 'community'
      AND d.community_code IS NOT NULL
      AND (b.report_date IS NULL OR d.report_date >= b.report_date)
    GROUP BY d.part, d.community_code
),
in_force AS (
    SELECT d.*
    FROM dated d
    JOIN updates u ON d.part = u.part AND d.community_code = u.community_code AND d.report_date = u.report_date
    WHERE d.snapshot_scope = 'community'
    UNION ALL
    SELECT d.*
    FROM dated d
    JOIN base b ON d.part = b.part AND d.report_date = b.report_date
    LEFT JOIN updates u ON d.part = u.part AND d.community_code = u.community_code
    WHERE d.snapshot_scope = 'district'
      AND d.community_code IS NOT NULL
      AND u.community_code IS NULL
)
SELECT
    substr(community_code, 1, 9) AS town_code,
    min(town) AS town,
    community_code,
    min(community) AS community,
    grid_code,
    min(grid_name) AS grid_name,
    max(households) AS households,
    count(*) AS sub_grids
FROM in_force
GROUP BY community_code, grid_code
