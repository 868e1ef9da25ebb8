-- Testing turnout rows (核酸检测楼栋统计) of the day's reports, the building's name made one
-- spelling: 3号楼, 3#楼, 3#, 3栋, 3幢, 3号 and a bare 3 are all 3号楼; other names (综合楼) are kept.
WITH spelled AS (
    SELECT
        t.*,
        replace(replace(replace(replace(trim(t.building), '#楼', '号楼'), '#', '号楼'), '栋', '号楼'), '幢', '号楼')
            AS b
    FROM testing t
    WHERE t.report_date = $report_date
)
SELECT
    report_date, test_date, town_code, community_code, grid_code, building_leader, residents, tested, reason,
    source_file, source_row,
    CASE
        WHEN ltrim(b, '0123456789') = '' THEN concat(b, '号楼')
        WHEN ltrim(b, '0123456789') = '号' THEN concat(b, '楼')
        ELSE b
    END AS building
FROM spelled
