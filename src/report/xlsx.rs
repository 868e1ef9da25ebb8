//! A report as an Excel workbook: one sheet per section, a Chinese title, merged two-row
//! headers where columns group, frozen header, autofilter, number/date/percentage formats, a 合计
//! row, conditional formats, widths that fit Chinese text, A4 landscape print setup with repeated
//! headers and a page footer, and a native line chart for a trend. Text from data is always
//! written as text (never a formula); the creation time is the report date, so the same data
//! gives the same bytes.

use std::path::Path;

use chrono::NaiveDate;
use rust_xlsxwriter::{
    Chart, ChartType, ConditionalFormatCell, ConditionalFormatCellRule, DocProperties, ExcelDateTime, Format,
    FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};

use super::definition::{Alert, Format as ColumnFormat};
use super::table::Value;
use super::view::SectionView;
use crate::normalize::text::display_width;

/// How a workbook is written.
pub struct Options<'a> {
    /// Sections of at least this many rows become constant-memory sheets.
    pub constant_memory_from_rows: usize,
    /// Where constant-memory sheets keep their rows until the workbook is saved: beside the
    /// reports, on disk, rather than a temporary folder that may be in memory.
    pub temp_dir: &'a Path,
}

/// Writes a report workbook.
pub fn write(
    path: &Path,
    title: &str,
    sections: &[SectionView],
    report_date: NaiveDate,
    options: &Options,
) -> Result<(), XlsxError> {
    let mut workbook = Workbook::new();
    // Fast deflate: these workbooks are small and many (one per grid); level 1 saves most of
    // the compression time for a few percent of size.
    workbook.set_zip_compression_level(1);
    let created =
        ExcelDateTime::from_ymd(report_date.year_ce().1 as u16, report_date.month() as u8, report_date.day() as u8)?;
    workbook
        .set_properties(&DocProperties::new().set_title(title).set_author("wangge").set_creation_datetime(&created));
    let large = |section: &SectionView| section.rows.len() >= options.constant_memory_from_rows;
    if sections.iter().any(large) {
        workbook.set_tempdir(options.temp_dir)?;
    }
    let mut used_names: Vec<String> = Vec::new();
    for section in sections {
        let sheet =
            if large(section) { workbook.add_worksheet_with_constant_memory()? } else { workbook.add_worksheet() };
        let name = super::sheet_name(&section.title, &used_names);
        used_names.push(name.clone());
        sheet.set_name(&name)?;
        write_section(sheet, title, section, report_date)?;
    }
    if sections.is_empty() {
        workbook.add_worksheet().write_string(0, 0, title)?;
    }
    // One write per file: saving to the path makes a write call per zip record (about 120 per
    // workbook, profiled), which dominated rendering 789 small workbooks.
    let bytes = workbook.save_to_buffer()?;
    crate::atomic_file::write(path, &bytes).map_err(XlsxError::IoError)?;
    crate::failpoint::hit("reports.file");
    Ok(())
}

use chrono::Datelike;

/// The cell formats of a data row (or, bold, of the 合计 row), built once per sheet: cloning a
/// format per cell showed in profiles.
struct RowStyle {
    text: Format,
    int: Format,
    float: Format,
    percent: Format,
    date: Format,
}

struct Styles {
    header: Format,
    data: RowStyle,
    total: RowStyle,
}

impl Styles {
    fn new() -> Styles {
        let border = Format::new().set_border(FormatBorder::Thin);
        let row = |base: &Format| RowStyle {
            text: base.clone(),
            int: base.clone().set_num_format("0"),
            float: base.clone().set_num_format("0.00"),
            percent: base.clone().set_num_format("0.0%"),
            date: base.clone().set_num_format("yyyy-mm-dd"),
        };
        Styles {
            header: border
                .clone()
                .set_bold()
                .set_background_color("#EAEEF2")
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            data: row(&border),
            total: row(&border.clone().set_bold()),
        }
    }
}

fn write_section(sheet: &mut Worksheet, title: &str, section: &SectionView, date: NaiveDate) -> Result<(), XlsxError> {
    let ncols = section.columns.len().max(1) as u16;
    let title_format = Format::new().set_bold().set_font_size(14).set_align(FormatAlign::Center);
    let styles = Styles::new();
    let header = &styles.header;

    let heading = format!("{title} · {}", section.title);
    if ncols > 1 {
        sheet.merge_range(0, 0, 0, ncols - 1, &heading, &title_format)?;
    } else {
        sheet.write_string_with_format(0, 0, &heading, &title_format)?;
    }
    // Header rows: a group row above where columns group. Row 1 is written whole before row 2:
    // a sheet in constant-memory mode cannot go back to an earlier row.
    let header_rows: u32 = if section.has_groups() { 2 } else { 1 };
    let mut c = 0u16;
    for (group, span) in &section.groups {
        let span = *span as u16;
        match group {
            Some(g) if header_rows == 2 && span > 1 => {
                sheet.merge_range(1, c, 1, c + span - 1, g, header)?;
            }
            Some(g) if header_rows == 2 => {
                sheet.write_string_with_format(1, c, g, header)?;
            }
            _ => {
                for k in 0..span {
                    let h = &section.columns[(c + k) as usize].header;
                    if header_rows == 2 {
                        sheet.merge_range(1, c + k, 2, c + k, h, header)?;
                    } else {
                        sheet.write_string_with_format(1, c + k, h, header)?;
                    }
                }
            }
        }
        c += span;
    }
    if header_rows == 2 {
        let mut c = 0u16;
        for (group, span) in &section.groups {
            let span = *span as u16;
            if group.is_some() {
                for k in 0..span {
                    sheet.write_string_with_format(2, c + k, &section.columns[(c + k) as usize].header, header)?;
                }
            }
            c += span;
        }
    }
    let last_header = header_rows;
    let first_data = last_header + 1;
    let mut widths: Vec<usize> = section.columns.iter().map(|c| display_width(&c.header).max(6)).collect();
    let all_rows = section.rows.iter().map(|r| (r, false)).chain(section.total.iter().map(|r| (r, true)));
    let mut row = first_data;
    for (values, is_total) in all_rows {
        let style = if is_total { &styles.total } else { &styles.data };
        for (i, (value, column)) in values.iter().zip(&section.columns).enumerate() {
            let col = i as u16;
            let percent = column.format == Some(ColumnFormat::Percent);
            match value {
                Value::Null => {
                    sheet.write_blank(row, col, &style.text)?;
                }
                Value::Int(n) => {
                    sheet.write_number_with_format(
                        row,
                        col,
                        *n as f64,
                        if percent { &style.percent } else { &style.int },
                    )?;
                }
                Value::Float(x) => {
                    sheet.write_number_with_format(
                        row,
                        col,
                        *x,
                        if percent { &style.percent } else { &style.float },
                    )?;
                }
                // Always a string cell: `=…`, `+…`, `-…` and `@…` stay text.
                Value::Text(t) => {
                    sheet.write_string_with_format(row, col, super::cell_text(t).as_ref(), &style.text)?;
                    widths[i] = widths[i].max(display_width(t));
                }
                Value::Date(d) => {
                    // Excel's dates run from 1900 to 9999. One cell outside them must not cost
                    // a unit its whole report: it is written as text, and logged.
                    let day = u16::try_from(d.year())
                        .ok()
                        .and_then(|y| ExcelDateTime::from_ymd(y, d.month() as u8, d.day() as u8).ok());
                    match day {
                        Some(day) => {
                            sheet.write_datetime_with_format(row, col, &day, &style.date)?;
                        }
                        None => {
                            tracing::warn!(section = %section.title, row, column = %section.columns[i].header, "Date outside Excel's range written as text.");
                            sheet.write_string_with_format(row, col, d.to_string(), &style.text)?;
                        }
                    }
                    widths[i] = widths[i].max(10);
                }
            }
        }
        row += 1;
    }
    let last_data = row.saturating_sub(1) - u32::from(section.total.is_some());
    for (i, w) in widths.iter().enumerate() {
        sheet.set_column_width(i as u16, (*w).min(40) as f64 + 2.0)?;
    }
    // Conditional formats on the data rows (not the 合计 row).
    if !section.rows.is_empty() {
        for (i, column) in section.columns.iter().enumerate() {
            let col = i as u16;
            match column.alert {
                Some(Alert::RedIfPositive) => {
                    let rule = ConditionalFormatCell::new()
                        .set_rule(ConditionalFormatCellRule::GreaterThan(0))
                        .set_format(Format::new().set_font_color("#CF222E").set_bold());
                    sheet.add_conditional_format(first_data, col, last_data, col, &rule)?;
                }
                Some(Alert::AmberBelow) => {
                    let rule = ConditionalFormatCell::new()
                        .set_rule(ConditionalFormatCellRule::LessThan(column.target.unwrap_or(0.0)))
                        .set_format(Format::new().set_background_color("#FFE8A3"));
                    sheet.add_conditional_format(first_data, col, last_data, col, &rule)?;
                }
                None => {}
            }
        }
        sheet.autofilter(last_header, 0, last_data, ncols - 1)?;
    }
    sheet.set_freeze_panes(first_data, 0)?;
    sheet.set_paper_size(9).set_landscape().set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(0, last_header)?;
    sheet.set_footer(format!("&C第 &P 页 共 &N 页    报告日期：{date}"));

    if let Some(chart) = &section.chart {
        // The chart's data below the table, row by row (a constant-memory sheet cannot go back
        // to an earlier row), then a native line chart beside it.
        let top = row + 2;
        sheet.write_string_with_format(top, 0, "日期", header)?;
        for (s, (name, _)) in chart.series.iter().enumerate() {
            sheet.write_string_with_format(top, 1 + s as u16, name, header)?;
        }
        for (k, label) in chart.labels.iter().enumerate() {
            let r = top + 1 + k as u32;
            sheet.write_string_with_format(r, 0, label, &styles.data.text)?;
            for (s, (_, values)) in chart.series.iter().enumerate() {
                sheet.write_number_with_format(r, 1 + s as u16, values[k], &styles.data.int)?;
            }
        }
        // One chart per measure, each on its own scale: on a shared axis 2,000 visits a day
        // flatten 3 new returnees into the floor.
        let last = top + chart.labels.len() as u32;
        let sheet_name = sheet.name();
        for s in 0..chart.series.len() {
            let col = 1 + s as u16;
            let mut line = Chart::new(ChartType::Line);
            line.title().set_name(&format!("{} · {}", section.title, chart.series[s].0));
            line.legend().set_hidden();
            line.add_series()
                .set_name((sheet_name.as_str(), top, col))
                .set_categories((sheet_name.as_str(), top + 1, 0, last, 0))
                .set_values((sheet_name.as_str(), top + 1, col, last, col));
            sheet.insert_chart(top + 16 * s as u32, 1 + chart.series.len() as u16 + 1, &line)?;
        }
    }
    Ok(())
}
