-- The grid registry in force on the report date, one row per grid (its sub-grids counted): the
-- latest 网格台账 snapshot on or before it that covered the district (registry_scope
-- 'district'; files from before scopes existed have none and were always whole), with every
-- later community-only update laid over it: such a community takes its grids from its own
-- latest update, the others keep the district snapshot's. The same rule as
-- `Warehouse::registry` in the ingest.
WITH dated AS (
    SELECT *, coalesce(registry_scope, 'district') AS snapshot_scope
    FROM grids
    WHERE report_date <= $report_date
),
base AS (
    SELECT max(report_date) AS report_date FROM dated WHERE snapshot_scope = 'district'
),
updates AS (
    SELECT community_code, max(report_date) AS report_date
    FROM dated
    WHERE snapshot_scope = 'community'
      AND community_code IS NOT NULL
      AND report_date >= coalesce((SELECT report_date FROM base), DATE '1900-01-01')
    GROUP BY community_code
),
in_force AS (
    SELECT d.*
    FROM dated d
    JOIN updates u ON d.community_code = u.community_code AND d.report_date = u.report_date
    WHERE d.snapshot_scope = 'community'
    UNION ALL
    SELECT d.*
    FROM dated d
    WHERE d.snapshot_scope = 'district'
      AND d.report_date = (SELECT report_date FROM base)
      AND d.community_code NOT IN (SELECT community_code FROM updates)
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
