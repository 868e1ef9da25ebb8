//! The generated completeness step (`[completeness]` in `pipeline.toml`): which communities
//! were expected to report, and did.

use super::checks;

/// The daily pipeline's `stg_registry.sql`, as bundled.
const STG_REGISTRY: &str = include_str!("../../pipelines/daily/sql/stg_registry.sql");

/// The registry in force on `$report_date` as SQL common table expressions over `grids`,
/// ending in `in_force` (its sub-grid rows): the rule of `normalize::in_force`, taken from the
/// daily pipeline's `stg_registry.sql`, which begins with them, so that the communities
/// expected to report are the registry's by one definition.
fn registry_in_force() -> &'static str {
    let start = STG_REGISTRY.find("WITH ").map_or(0, |i| i + "WITH ".len());
    let end = STG_REGISTRY.rfind(")\nSELECT").map_or(STG_REGISTRY.len(), |i| i + 1);
    STG_REGISTRY.get(start..end).unwrap_or_default()
}

/// The generated completeness step: every community of the registry in force on the report
/// date (`registry_in_force`) and form, with 已报 (rows submitted), 零报告 (a sheet with no
/// rows, or only a 无 row) or 应报未报 (nothing); `form_label` is the form's Chinese name, for
/// reports.
pub fn completeness_sql(forms: &[(String, String)]) -> String {
    let forms = forms
        .iter()
        .map(|(id, label)| format!("({}, {})", checks::literal(id), checks::literal(label)))
        .collect::<Vec<_>>()
        .join(", ");
    let registry = registry_in_force();
    format!(
        "WITH {registry},
registry AS (
    SELECT DISTINCT substr(community_code, 1, 9) AS town_code, town, community_code, community
    FROM in_force
),
expected AS (
    SELECT r.town_code, r.town, r.community_code, r.community, f.form, f.form_label
    FROM registry r CROSS JOIN (VALUES {forms}) AS f(form, form_label)
),
submitted AS (
    SELECT community_code, form, count(*) AS sheets, sum(accepted) AS accepted, sum(rejected) AS rejected
    FROM ingest_files
    WHERE status = 'read' AND report_date = $report_date
    GROUP BY community_code, form
)
SELECT $report_date AS report_date, e.town_code, e.town, e.community_code, e.community, e.form, e.form_label,
    CASE WHEN s.sheets IS NULL THEN '应报未报'
         WHEN s.accepted + s.rejected = 0 THEN '零报告'
         ELSE '已报' END AS status,
    coalesce(s.accepted, 0) AS accepted,
    coalesce(s.rejected, 0) AS rejected
FROM expected e
LEFT JOIN submitted s ON s.community_code = e.community_code AND s.form = e.form"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completeness_expects_the_communities_of_the_daily_pipeline_s_registry_in_force() {
        let ctes = registry_in_force();
        assert!(ctes.starts_with("coded AS (") && ctes.ends_with(')'), "{ctes}");
        assert!(ctes.contains("\nin_force AS (") && !ctes.contains("\nSELECT\n    substr"), "{ctes}");
        let sql = completeness_sql(&[("returnees".into(), "来返人员".into())]);
        assert!(sql.contains("FROM in_force"), "{sql}");
        datafusion::sql::parser::DFParser::parse_sql(&sql.replace("$report_date", "DATE '2022-05-10'")).unwrap();
    }
}
