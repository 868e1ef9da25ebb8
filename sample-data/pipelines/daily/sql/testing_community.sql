-- Testing turnout per community (村/社区): buildings tested, residents due, tested, the turnout
-- from the sums, and buildings below 90% turnout.
SELECT
    town_code, min(town) AS town, community_code, min(community) AS community,
    count(*) AS buildings, sum(residents) AS residents, sum(tested) AS tested, sum(untested) AS untested,
    round(sum(tested) * 1.0 / nullif(sum(residents), 0), 4) AS turnout,
    count(CASE WHEN turnout < 0.9 THEN 1 END) AS buildings_below_90
FROM testing_buildings
WHERE report_date = $report_date
GROUP BY town_code, community_code
