-- Fire-safety checks (消防安全检查) of the last 92 days' reports up to the report date, each with
-- what it found (docs/metrics.md, 消防). A place has a hazard when an item says so (an electric
-- bike parked or charged indoors, wiring pulled loose, clutter on the stairs, no working
-- extinguisher, a blocked exit) or its count of hazards is above zero; an item left blank or
-- unreadable says nothing. A hazard is fixed when fixed on the spot or 是否整改完成 says so.
SELECT
    report_date, check_date, town_code, community_code, grid_code, address, place, place_kind, inspector,
    fix_way, fix_deadline, source_file, source_sheet, source_row,
    -- What was found, in the sheet's words, or from its items or its count where it has no
    -- such column.
    coalesce(
        hazard,
        nullif(concat_ws('、',
            CASE WHEN ebike_indoor THEN '电动车入户/楼道' END,
            CASE WHEN NOT exits_clear THEN '疏散通道堵塞' END,
            CASE WHEN NOT extinguisher_ok THEN '灭火器缺失或失效' END,
            CASE WHEN wiring_unsafe THEN '电线私拉乱接' END,
            CASE WHEN clutter THEN '楼道杂物堆放' END
        ), ''),
        CASE WHEN hazard_count > 0 THEN concat('隐患', CAST(hazard_count AS VARCHAR), '处') END
    ) AS hazard,
    CASE WHEN ebike_indoor THEN 1 ELSE 0 END AS ebike,
    CASE WHEN NOT exits_clear THEN 1 ELSE 0 END AS exit_blocked,
    CASE
        WHEN ebike_indoor OR wiring_unsafe OR clutter OR NOT extinguisher_ok OR NOT exits_clear OR hazard_count > 0
        THEN 1 ELSE 0
    END AS hazard_place,
    CASE WHEN fix_way = '当场整改' OR fixed THEN 1 ELSE 0 END AS fixed
FROM fire_safety
WHERE report_date <= $report_date AND report_date >= $report_date - 92
