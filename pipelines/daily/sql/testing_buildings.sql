-- Testing turnout per building for the report date: residents due, tested, untested and the
-- turnout (参检率). A building listed twice in a day (two spellings, two rounds) counts once, by
-- its latest test date. `building_code` is the grid code, `B` and the building's number
-- (`…00B007`; `BX` and its rank in the grid for a name with no number): a unit with reports of
-- its own (scope `building`).
WITH one_per_building AS (
    SELECT *
    FROM (
        SELECT
            s.*,
            row_number() OVER (
                PARTITION BY grid_code, building ORDER BY test_date DESC, source_file, source_row
            ) AS nth
        FROM stg_testing s
    ) ranked
    WHERE nth = 1
)
SELECT
    b.town_code, g.town, b.community_code, g.community, b.grid_code, g.grid_name,
    CAST(concat(
        b.grid_code, 'B',
        CASE
            WHEN ltrim(replace(b.building, '号楼', ''), '0123456789') = '' THEN lpad(replace(b.building, '号楼', ''), 3, '0')
            ELSE concat('X', CAST(dense_rank() OVER (PARTITION BY b.grid_code ORDER BY b.building) AS VARCHAR))
        END
    ) AS VARCHAR) AS building_code,
    b.building, b.building_leader, b.test_date, b.residents, b.tested,
    b.residents - b.tested AS untested,
    round(b.tested * 1.0 / nullif(b.residents, 0), 4) AS turnout,
    b.reason
FROM one_per_building b
LEFT JOIN stg_registry g ON g.grid_code = b.grid_code AND g.report_date = $report_date
