//! 退回修改 workbooks: for each community and report date with rejected rows, a workbook in
//! Chinese to send back: the rejected rows in the community's own columns, the 错误原因, and
//! the bad cell of each row highlighted. IDs and phones are masked unless the workspace keeps
//! them raw. The rows are re-read from the source files, so ingest keeps no copy of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rust_xlsxwriter::{Color, DocProperties, Format, FormatAlign, FormatBorder, Workbook, XlsxError};

use super::safe_file_component;

/// The folder of a day's reports that holds its 退回修改 workbooks (beside the scopes' folders,
/// so no scope may be named so).
pub const FOLDER: &str = "returns";
use crate::config::forms::FormConfig;
use crate::ingest::read::{self, RawSheet, Visibility};
use crate::ingest::{FileResult, Reject};
use crate::normalize::grid::Registry;
use crate::privacy::Privacy;

#[derive(Debug, thiserror::Error)]
pub enum ReturnsError {
    #[error("cannot write `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build workbook `{}`", path.display())]
    Xlsx {
        path: PathBuf,
        #[source]
        source: XlsxError,
    },
}

/// One block of a returns workbook: the rejects of one source sheet.
struct Block<'a> {
    file: &'a FileResult,
    sheet_index: usize,
    rejects: Vec<&'a Reject>,
}

/// Writes the 退回修改 workbooks of some ingested files under `reports/<date>/returns/`, one per
/// community and date, and adds their paths to `written`: the workbooks this ingest call has
/// written so far. A call takes a backlog in batches; a community whose rejects for a date come
/// in two batches gets a second workbook (`…-退回修改-2.xlsx`) beside the first, not one that
/// replaces it.
pub fn write_all(
    files: &[FileResult],
    inbox: &Path,
    reports: &Path,
    forms: &[FormConfig],
    registry: &Registry,
    privacy: &Privacy,
    written: &mut BTreeSet<PathBuf>,
) -> Result<(), ReturnsError> {
    // (report date, community code or "") → blocks. A workbook goes back to one community and
    // holds only its rows: a sheet from a file of one community is that community's; the rows
    // of a sheet that serves several (a town's workbook, the hotline's export) go each to the
    // community its grid or community column names, the rest to 未归属社区.
    let mut groups: BTreeMap<(NaiveDate, String), Vec<Block<'_>>> = BTreeMap::new();
    let mut cache: BTreeMap<String, Vec<RawSheet>> = BTreeMap::new();
    for file in files {
        for (i, s) in file.sheets.iter().enumerate() {
            if s.rejects.is_empty() {
                continue;
            }
            if let Some(community) = &s.community {
                let key = (s.report_date, community.clone());
                groups.entry(key).or_default().push(Block {
                    file,
                    sheet_index: i,
                    rejects: s.rejects.iter().collect(),
                });
                continue;
            }
            let raw = if file.streamed { None } else { sheets_of(&mut cache, inbox, file).get(s.index).cloned() };
            let mut by_community: BTreeMap<String, Vec<&Reject>> = BTreeMap::new();
            for r in &s.rejects {
                let cells = match &raw {
                    Some(sheet) => sheet.rows.get(r.row - 1),
                    None => s.rejected_cells.get(&r.row),
                };
                let community = cells.and_then(|cells| row_community(cells, s, registry)).unwrap_or_default();
                by_community.entry(community).or_default().push(r);
            }
            for (community, rejects) in by_community {
                groups.entry((s.report_date, community)).or_default().push(Block { file, sheet_index: i, rejects });
            }
        }
    }
    for ((date, community), blocks) in groups {
        let name = registry.communities.get(&community).map(|c| c.name.clone());
        let stem = match &name {
            Some(n) => format!("{}-{}-退回修改", safe_file_component(&community), safe_file_component(n)),
            None => "未归属社区-退回修改".to_string(),
        };
        let dir = reports.join(date.to_string()).join(FOLDER);
        std::fs::create_dir_all(&dir).map_err(|source| ReturnsError::Io { path: dir.clone(), source })?;
        let path = (1..)
            .map(|n| dir.join(if n == 1 { format!("{stem}.xlsx") } else { format!("{stem}-{n}.xlsx") }))
            .find(|p| !written.contains(p))
            .expect("an unused name");
        // A workbook that cannot be built from what a community sent (a name or value the
        // writer refuses) costs that community its 退回修改 list, logged, and nothing else: the
        // ingest and every other community's list go on. Only a disk that cannot be written
        // stops the run.
        let bytes =
            match workbook(date, name.as_deref().unwrap_or("未归属社区"), &blocks, inbox, &mut cache, forms, privacy)
            {
                Ok(bytes) => bytes,
                Err(source) => {
                    let error = ReturnsError::Xlsx { path: path.clone(), source };
                    tracing::warn!(error = %crate::runner::error_chain(&error), "A 退回修改 workbook was not written.");
                    continue;
                }
            };
        crate::atomic_file::write(&path, &bytes).map_err(|source| ReturnsError::Io { path: path.clone(), source })?;
        written.insert(path);
    }
    Ok(())
}

/// The community a row belongs to by its own cells: its grid, or else its community column.
fn row_community(
    cells: &[crate::normalize::value::Cell],
    sheet: &crate::ingest::SheetResult,
    registry: &Registry,
) -> Option<String> {
    let cell = |field: &str| {
        let column = sheet.headers.iter().find(|(_, h)| h.field.as_deref() == Some(field)).map(|(c, _)| *c)?;
        let text = cells.get(column)?.text();
        (!text.is_empty()).then_some(text)
    };
    if let Some(grid) = cell("grid")
        && let Ok(resolved) = registry.resolve(&grid, None, None)
    {
        return Some(resolved.community_code);
    }
    let named = registry.communities_named(&cell("community")?);
    (named.len() == 1).then(|| named[0].code.clone())
}

fn sheets_of<'c>(cache: &'c mut BTreeMap<String, Vec<RawSheet>>, inbox: &Path, file: &FileResult) -> &'c [RawSheet] {
    cache.entry(file.path.clone()).or_insert_with(|| {
        let path = inbox.join(&file.path);
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_string();
        std::fs::read(&path)
            .ok()
            .and_then(|bytes| read::read(bytes, &extension, &crate::ingest::limits::Limits::default()).ok())
            .map(|(_, sheets)| sheets)
            .unwrap_or_default()
    })
}

fn workbook(
    date: NaiveDate,
    community: &str,
    blocks: &[Block<'_>],
    inbox: &Path,
    cache: &mut BTreeMap<String, Vec<RawSheet>>,
    forms: &[FormConfig],
    privacy: &Privacy,
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    wb.set_properties(&DocProperties::new().set_title(format!("{community}退回修改清单")).set_creation_datetime(&date));
    let title = Format::new().set_bold().set_font_size(14).set_align(FormatAlign::Center);
    let head = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xEAEEF2))
        .set_border(FormatBorder::Thin)
        .set_text_wrap();
    let cell = Format::new().set_border(FormatBorder::Thin);
    let bad = Format::new()
        .set_border(FormatBorder::Thin)
        .set_background_color(Color::RGB(0xFFC7CE))
        .set_font_color(Color::RGB(0x9C0006));
    let reason = Format::new().set_border(FormatBorder::Thin).set_font_color(Color::RGB(0x9C0006)).set_text_wrap();
    let mut used_names: Vec<String> = Vec::new();
    for block in blocks {
        let s = &block.file.sheets[block.sheet_index];
        let form = forms.iter().find(|f| Some(&f.form) == s.form.as_ref());
        // A large workbook's rejected rows were kept as it was read; rows it did not keep
        // (duplicates, or past its limit) are read again as a stream.
        let streamed_rows = block.file.streamed.then(|| streamed_rejected_rows(inbox, block));
        let raw = match &streamed_rows {
            Some(rows) => rows.as_ref(),
            None => sheets_of(cache, inbox, block.file).get(s.index),
        };
        let ws = wb.add_worksheet();
        let base =
            if s.name.is_empty() { form.map_or("数据".to_string(), |f| f.label.clone()) } else { s.name.clone() };
        let name = super::sheet_name(&base, &used_names);
        used_names.push(name.clone());
        ws.set_name(&name)?;
        // The community's own columns: every column of its header, as labelled.
        let width = s.headers.keys().max().map_or(0, |m| m + 1);
        let labels: Vec<String> =
            (0..width).map(|c| s.headers.get(&c).map(|h| h.label.clone()).unwrap_or_default()).collect();
        let last_col = (width + 1) as u16;
        ws.merge_range(
            0,
            0,
            0,
            last_col,
            &format!(
                "{community}{}退回修改清单（{}）",
                form.map_or("", |f| f.label.as_str()),
                date.format("%Y年%-m月%-d日")
            ),
            &title,
        )?;
        ws.merge_range(
            1,
            0,
            1,
            last_col,
            &privacy.redact(&format!(
                "原文件：{}{}　请按“错误原因”修改标红的单元格后重新报送。",
                block.file.path,
                if s.name.is_empty() { String::new() } else { format!("，工作表：{}", s.name) }
            )),
            &Format::new(),
        )?;
        ws.write_string_with_format(2, 0, "原行号", &head)?;
        for (c, label) in labels.iter().enumerate() {
            ws.write_string_with_format(2, (c + 1) as u16, super::cell_text(label).as_ref(), &head)?;
        }
        ws.write_string_with_format(2, last_col, "错误原因", &head)?;
        ws.set_freeze_panes(3, 1)?;
        for (i, r) in block.rejects.iter().enumerate() {
            let row = (3 + i) as u32;
            ws.write_number_with_format(row, 0, r.row as f64, &cell)?;
            for c in 0..width {
                let value = raw
                    .and_then(|sheet| sheet.rows.get(r.row - 1))
                    .and_then(|cells| cells.get(c))
                    .map(|v| v.display())
                    .unwrap_or_default();
                let field = s.headers.get(&c).and_then(|h| h.field.as_ref());
                let kind = form.and_then(|f| f.fields.iter().find(|x| Some(&x.name) == field)).map(|x| x.kind);
                // Masked like every output, the cell to correct too: a mistyped ID still holds 17
                // of someone's 18 digits, and Excel's rounded one 15. The row number, the name
                // and the reason find the cell; what is wrong with it is in 错误原因.
                let shown = privacy.show(&value, kind);
                let shown = super::cell_text(&shown);
                ws.write_string_with_format(
                    row,
                    (c + 1) as u16,
                    shown.as_ref(),
                    if c == r.column { &bad } else { &cell },
                )?;
            }
            ws.write_string_with_format(
                row,
                last_col,
                super::cell_text(&privacy.redact(&r.message)).as_ref(),
                &reason,
            )?;
        }
        for c in 0..width {
            ws.set_column_width((c + 1) as u16, (labels[c].chars().count() as f64 * 2.2 + 2.0).clamp(8.0, 24.0))?;
        }
        ws.set_column_width(last_col, 48)?;
    }
    wb.save_to_buffer()
}

/// The rejected rows of a block of a streamed sheet, 0-based in a sheet of otherwise empty
/// rows: those kept by the ingest, and the others read again from the file.
fn streamed_rejected_rows(inbox: &Path, block: &Block<'_>) -> Option<RawSheet> {
    let s = &block.file.sheets[block.sheet_index];
    let missing: std::collections::BTreeSet<usize> =
        block.rejects.iter().filter(|r| !s.rejected_cells.contains_key(&r.row)).map(|r| r.row - 1).collect();
    let mut sheet = if missing.is_empty() {
        RawSheet { name: s.name.clone(), visibility: Visibility::Visible, rows: Vec::new(), merged: Vec::new() }
    } else {
        crate::ingest::stream::read_rows(&inbox.join(&block.file.path), &s.name, &missing)?
    };
    for r in &block.rejects {
        if let Some(cells) = s.rejected_cells.get(&r.row) {
            if sheet.rows.len() < r.row {
                sheet.rows.resize_with(r.row, Vec::new);
            }
            sheet.rows[r.row - 1] = cells.clone();
        }
    }
    Some(sheet)
}
