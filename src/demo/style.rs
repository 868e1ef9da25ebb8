//! How each community lays out its daily workbook: file and sheet names, title rows, header
//! wording (synonyms), and how dates and grids are spelled. Five house styles, one per
//! community in turn, so every quirk of domain.md §3 appears somewhere in the sample.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};

use super::district::{Community, Grid};
use super::rng::Rng;
use super::sheet::{Cell, Column};

/// The five house styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Title and 填报单位 rows, one header row, 序号, date cells, 合计 and 说明 rows at the end.
    Standard,
    /// Two-row merged headers, dates as `2022.5.10`, grids as `第三网格`.
    MergedHeader,
    /// Header on row 1, default sheet names, some IDs typed as numbers, dates as serials.
    Bare,
    /// WPS-style mess: blank rows, a repeated header, full-width characters, mixed dates.
    Messy,
    /// An instructions sheet first, dates as `2022年5月10日` and `5月10日`, grids by code.
    WithInstructions,
}

pub const STYLES: [Style; 5] =
    [Style::Standard, Style::MergedHeader, Style::Bare, Style::Messy, Style::WithInstructions];

/// The daily forms of a community workbook: the three every community sends, then the
/// workflows some send (see `workflows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyForm {
    Returnees,
    Followups,
    Visits,
    FireSafety,
    Testing,
}

impl DailyForm {
    pub fn id(self) -> &'static str {
        match self {
            DailyForm::Returnees => "returnees",
            DailyForm::Followups => "followups",
            DailyForm::Visits => "visits",
            DailyForm::FireSafety => "fire_safety",
            DailyForm::Testing => "testing",
        }
    }

    fn title(self) -> &'static str {
        match self {
            DailyForm::Returnees => "来唐返唐人员登记表",
            DailyForm::Followups => "重点人员随访台账",
            DailyForm::Visits => "入户走访记录表",
            DailyForm::FireSafety => "消防安全检查记录表",
            DailyForm::Testing => "核酸检测楼栋统计表",
        }
    }
}

impl Style {
    pub fn file_name(self, c: &Community, day: NaiveDate) -> String {
        let (m, d) = (day.month(), day.day());
        match self {
            Style::Standard => format!("{}{m}.{d}.xlsx", c.name),
            Style::MergedHeader => format!("{m}月{d}日 {} 来返登记.xlsx", c.name),
            Style::Bare => format!("{}（{m}.{d}）.xlsx", c.name),
            // The date is only in the folder and the sheet names.
            Style::Messy => format!("{}_每日报表.xlsx", c.name),
            Style::WithInstructions => format!("{}_{}.xlsx", c.name, day.format("%Y%m%d")),
        }
    }

    pub fn sheet_name(self, form: DailyForm, day: NaiveDate) -> String {
        let md = format!("{}.{}", day.month(), day.day());
        let names = match self {
            Style::Standard => ["来唐返唐人员登记", "重点人员随访", "入户走访", "消防安全检查", "核酸检测"],
            Style::MergedHeader => ["来返登记", "重点人员", "走访记录", "消防检查", "楼栋核酸"],
            Style::Bare => ["Sheet1", "Sheet2", "Sheet3", "Sheet4", "Sheet5"],
            Style::Messy => return format!("{md}{}", ["来返", "重点", "走访", "消防", "核酸"][form as usize]),
            Style::WithInstructions => {
                ["来唐返唐", "重点人员随访台账", "入户走访台账", "消防安全检查台账", "核酸检测统计"]
            }
        };
        names[form as usize].to_string()
    }

    pub fn titles(self, c: &Community, form: DailyForm, day: NaiveDate) -> Vec<String> {
        let cn_date = format!("{}年{}月{}日", day.year(), day.month(), day.day());
        match self {
            Style::Standard => vec![
                format!("{}{}", c.name, form.title()),
                format!("填报单位：{}（盖章）        填报日期：{cn_date}", c.name),
            ],
            Style::MergedHeader => vec![format!("{}{}（{}月{}日）", c.name, form.title(), day.month(), day.day())],
            Style::Bare => vec![],
            Style::Messy => vec![format!("{} {}", c.name, form.title())],
            Style::WithInstructions => vec![format!("{}{}", c.name, form.title()), format!("统计日期：{cn_date}")],
        }
    }

    /// Header wording for each field of `form` in this style; `None` drops the column.
    pub fn columns(self, form: DailyForm) -> Vec<Column> {
        if let Some(columns) = super::workflows::columns(form, self) {
            return columns;
        }
        let spec: &[(&'static str, &'static str, Option<&'static str>)] = match (form, self) {
            (DailyForm::Returnees, Style::Standard) => &[
                ("seq", "序号", None),
                ("name", "姓名", None),
                ("gender", "性别", None),
                ("citizen_id", "身份证号", None),
                ("phone", "联系电话", None),
                ("address", "现居住地址", None),
                ("grid", "所属网格", None),
                ("origin", "来源地", None),
                ("arrival_date", "抵唐时间", None),
                ("transport", "交通方式", None),
                ("origin_risk", "风险类别", None),
                ("measure", "管控措施", None),
                ("measure_start", "管控开始", None),
                ("measure_end", "管控结束", None),
                ("report_way", "报备方式", None),
                ("registered_by", "登记人", None),
                ("remark", "备注", None),
            ],
            (DailyForm::Returnees, Style::MergedHeader) => &[
                ("seq", "序号", None),
                ("name", "姓名", Some("基本信息")),
                ("gender", "性别", Some("基本信息")),
                ("citizen_id", "身份证号码", Some("基本信息")),
                ("phone", "联系方式", Some("基本信息")),
                ("grid", "所属网格", None),
                ("origin", "从何地返回", Some("返唐信息")),
                ("arrival_date", "返唐时间", Some("返唐信息")),
                ("transport", "交通工具", Some("返唐信息")),
                ("measure", "管控措施", Some("管控情况")),
                ("measure_start", "开始日期", Some("管控情况")),
                ("measure_end", "结束日期", Some("管控情况")),
                ("remark", "备注", None),
            ],
            (DailyForm::Returnees, Style::Bare) => &[
                ("citizen_id", "公民身份号码", None),
                ("name", "人员姓名", None),
                ("gender", "性别(男/女)", None),
                ("phone", "手机号码", None),
                ("grid", "网格名称", None),
                ("origin", "出发地", None),
                ("arrival_date", "到达时间", None),
                ("measure", "管控措施", None),
                ("measure_start", "起始日期", None),
                ("measure_end", "截止日期", None),
                ("registered_by", "登记人", None),
            ],
            (DailyForm::Returnees, Style::Messy) => &[
                ("seq", "序号", None),
                ("name", "居民姓名", None),
                ("gender", "性别", None),
                ("citizen_id", "身份证号码", None),
                ("phone", "电话", None),
                ("address", "居住地址", None),
                ("grid", "网格", None),
                ("origin", "来自何地", None),
                ("arrival_date", "返乡时间", None),
                ("measure", "管控措施", None),
                ("measure_start", "管控开始时间", None),
                ("measure_end", "管控结束时间", None),
                ("remark", "备注", None),
            ],
            (DailyForm::Returnees, Style::WithInstructions) => &[
                ("seq", "序号", None),
                ("name", "姓名", None),
                ("citizen_id", "身份证件号码（18位）", None),
                ("phone", "联系电话", None),
                ("grid", "所属网格", None),
                ("origin", "来源地", None),
                ("arrival_date", "抵达日期", None),
                ("measure", "管控措施", None),
                ("measure_start", "管控起始", None),
                ("measure_end", "管控终止", None),
                ("report_way", "报备方式", None),
            ],
            (DailyForm::Followups, Style::MergedHeader) => &[
                ("seq", "序号", None),
                ("push_date", "推送日期", Some("推送信息")),
                ("push_source", "推送来源", Some("推送信息")),
                ("category", "人员类别", Some("推送信息")),
                ("name", "姓名", Some("人员信息")),
                ("citizen_id", "身份证号", Some("人员信息")),
                ("phone", "手机号", Some("人员信息")),
                ("grid", "所属网格", None),
                ("check_status", "核查状态", Some("随访情况")),
                ("followup_way", "随访方式", Some("随访情况")),
                ("measure", "管控措施", Some("随访情况")),
                ("worker", "责任网格员", None),
            ],
            (DailyForm::Followups, Style::Bare) => &[
                ("name", "姓名", None),
                ("phone", "手机", None),
                ("citizen_id", "证件号码", None),
                ("category", "人员类别", None),
                ("push_date", "推送时间", None),
                ("grid", "网格名称", None),
                ("check_status", "核查结果", None),
                ("worker", "网格员", None),
            ],
            (DailyForm::Followups, _) => &[
                ("seq", "序号", None),
                ("push_date", "推送日期", None),
                ("push_source", "推送来源", None),
                ("name", "姓名", None),
                ("citizen_id", "身份证号", None),
                ("phone", "手机号", None),
                ("category", "人员类别", None),
                ("check_status", "核查状态", None),
                ("followup_way", "随访方式", None),
                ("measure", "管控措施", None),
                ("grid", "所属网格", None),
                ("worker", "责任网格员", None),
                ("remark", "备注", None),
            ],
            (DailyForm::Visits, Style::Bare) => &[
                ("visit_date", "日期", None),
                ("grid", "网格名称", None),
                ("worker", "网格员", None),
                ("household_head", "户主", None),
                ("address", "住址", None),
                ("visit_way", "方式", None),
                ("family_size", "家庭人口", None),
                ("problem", "问题诉求", None),
            ],
            (DailyForm::Visits, Style::MergedHeader) => &[
                ("seq", "序号", None),
                ("visit_date", "走访日期", None),
                ("grid", "所属网格", None),
                ("worker", "走访人", None),
                ("household_head", "户主姓名", Some("走访对象")),
                ("address", "地址", Some("走访对象")),
                ("family_size", "家庭人口", Some("走访对象")),
                ("at_home", "在家人数", Some("走访对象")),
                ("visit_way", "走访方式", Some("走访情况")),
                ("visit_kind", "走访类型", Some("走访情况")),
                ("problem", "发现问题/诉求", Some("走访情况")),
                ("handling", "处理情况", Some("走访情况")),
            ],
            (DailyForm::FireSafety | DailyForm::Testing, _) => unreachable!("returned by `workflows::columns`"),
            (DailyForm::Visits, _) => &[
                ("seq", "序号", None),
                ("visit_date", "走访日期", None),
                ("worker", "网格员", None),
                ("household_head", "户主姓名", None),
                ("address", "地址", None),
                ("grid", "所属网格", None),
                ("visit_way", "走访方式", None),
                ("visit_kind", "走访类型", None),
                ("family_size", "家庭人口", None),
                ("at_home", "在家人数", None),
                ("away_plan", "外出人员及拟返唐情况", None),
                ("problem", "发现问题/诉求", None),
                ("handling", "处理情况", None),
            ],
        };
        spec.iter().map(|&(field, header, parent)| Column { field, header: header.to_string(), parent }).collect()
    }

    /// A date as this office writes it.
    pub fn date_cell(self, rng: &mut Rng, date: NaiveDate) -> Cell {
        let (y, m, d) = (date.year(), date.month(), date.day());
        match self {
            Style::Standard => Cell::Date(date),
            Style::MergedHeader => Cell::text(format!("{y}.{m}.{d}")),
            Style::Bare => {
                if rng.chance(500) {
                    Cell::Number(excel_serial(date))
                } else {
                    Cell::text(date.format("%Y%m%d").to_string())
                }
            }
            Style::Messy => match rng.below(7) {
                0 => Cell::text(format!("{y}/{m}/{d}")),
                1 => Cell::text(date.format("%Y-%m-%d").to_string()),
                2 => Cell::text(format!("{y}年{m}月{d}日")),
                3 => Cell::text(format!("{m}月{d}日")),
                4 => Cell::text(format!("{y}.{m}.{d}")),
                5 => Cell::Date(date),
                _ => {
                    let time =
                        NaiveTime::from_hms_opt(rng.range(7, 20) as u32, [0, 15, 30, 45][rng.below(4) as usize], 0)
                            .unwrap();
                    Cell::DateTime(NaiveDateTime::new(date, time))
                }
            },
            Style::WithInstructions => {
                if rng.chance(500) {
                    Cell::text(format!("{y}年{m}月{d}日"))
                } else {
                    Cell::text(format!("{m}月{d}日"))
                }
            }
        }
    }

    /// A grid as this office names it: the several ways of domain.md §2.3.
    pub fn grid_cell(self, rng: &mut Rng, c: &Community, g: &Grid) -> Cell {
        match self {
            Style::Standard => Cell::text(c.grid_name(g)),
            Style::MergedHeader => Cell::text(format!("第{}网格", chinese_number(g.number))),
            Style::Bare => Cell::text(format!("{}{}网格", c.short_name(), g.number)),
            Style::Messy => match rng.below(4) {
                0 => Cell::text(format!("第{}网格", g.number)),
                1 => Cell::text(format!("{}{}网格", c.short_name(), g.number)),
                2 => Cell::text(format!("第{}网格", chinese_number(g.number))),
                _ => Cell::text(format!(" {} ", c.grid_name(g))),
            },
            Style::WithInstructions => Cell::text(g.code.clone()),
        }
    }

    /// A grid number that does not exist in the community, spelled in this style.
    pub fn unknown_grid_cell(self, c: &Community, number: u32) -> Cell {
        match self {
            Style::WithInstructions => Cell::text(format!("{}{number:03}00", c.code)),
            Style::MergedHeader => Cell::text(format!("第{}网格", chinese_number(number))),
            _ => Cell::text(format!("{}第{number}网格", c.name)),
        }
    }
}

/// The Excel serial of a date (1900 system, epoch 1899-12-30): 2022-05-10 is 44691.
pub fn excel_serial(date: NaiveDate) -> f64 {
    (date - NaiveDate::from_ymd_opt(1899, 12, 30).unwrap()).num_days() as f64
}

/// Chinese numerals for 1..=99 as grid workers write them (三, 十二, 二十三).
pub fn chinese_number(n: u32) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0..=9 => DIGITS[n as usize].to_string(),
        10..=19 => format!("十{}", if n == 10 { "" } else { DIGITS[(n % 10) as usize] }),
        _ => format!("{}十{}", DIGITS[(n / 10) as usize], if n % 10 == 0 { "" } else { DIGITS[(n % 10) as usize] }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_and_numerals() {
        assert_eq!(excel_serial(NaiveDate::from_ymd_opt(2022, 5, 10).unwrap()), 44691.0);
        assert_eq!(chinese_number(3), "三");
        assert_eq!(chinese_number(10), "十");
        assert_eq!(chinese_number(12), "十二");
        assert_eq!(chinese_number(20), "二十");
        assert_eq!(chinese_number(23), "二十三");
    }
}
