//! Judging a day's data against the thresholds of `[daily]`: each problem becomes one line of
//! Chinese, put in the manifest and at the top of every message, so that nobody receives an
//! incomplete report without being told.

use chrono::NaiveDate;

use super::manifest::Manifest;
use crate::config::workspace::DailyConfig;
use crate::report::table::Table;
use crate::sql::run::RunOutcome;

pub fn judge(config: &DailyConfig, date: NaiveDate, m: &mut Manifest, outcome: &RunOutcome) -> Vec<String> {
    let day = date.format("%Y年%-m月%-d日").to_string();
    let mut problems = Vec::new();
    for check in outcome.failed_checks() {
        if check.step == crate::sql::pipeline::COMPLETENESS {
            if check.failing_rows as u64 > config.max_missing_submissions {
                let table = Table::from_batches(&check.sample);
                let names: Vec<String> = match (table.index("town"), table.index("community")) {
                    (Some(t), Some(c)) => table
                        .rows
                        .iter()
                        .map(|r| {
                            format!("{}{}", r[t].as_text().unwrap_or_default(), r[c].as_text().unwrap_or_default())
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let more = if check.failing_rows > names.len() { " 等" } else { "" };
                problems.push(format!(
                    "应报未报：{} 项材料{day}未报送（{}{more}），报告中相应数字不全。",
                    check.failing_rows,
                    names.join("、")
                ));
            }
        } else if config.fail_on_checks {
            problems.push(format!("数据检查未通过：{}（{}，{} 行）。", check.check, check.step, check.failing_rows));
        }
    }
    let rows: i64 = m.inputs.iter().map(|i| i.rows_read).sum();
    let rejected: i64 = m.inputs.iter().map(|i| i.rejected).sum();
    if rows > 0 {
        let share = rejected as f64 / rows as f64;
        m.reject_share = Some(share);
        if share > config.max_reject_share {
            problems.push(format!(
                "拒收偏多：{day}共 {rows} 行中有 {rejected} 行未通过校验（{:.1}%，上限 {:.1}%），已生成退回修改表。",
                share * 100.0,
                config.max_reject_share * 100.0
            ));
        }
    }
    if !m.ingest.unreadable.is_empty() {
        let names: Vec<&str> = m.ingest.unreadable.iter().map(|(p, _)| p.as_str()).collect();
        problems.push(format!("无法读取的文件 {} 个：{}。", names.len(), names.join("、")));
    }
    problems
}
