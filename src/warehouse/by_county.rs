//! Row groups of a county at a time, for the warehouse's parts and the pipelines' marts
//! (`parquet_io`).

use std::fs::File;

use arrow::array::{Array, RecordBatch};
use parquet::arrow::ArrowWriter;

use super::parquet_io::CHUNK;

/// Row groups that hold a county at a time (`crate::county`), for rows that come county by
/// county (a part's, a mart's). A county's run of a split step reads only its own county's
/// groups (skipping the others' by their codes' statistics), and every reader holds one
/// county's group at a time, not the city's: a compacted file's groups of 131,072 rows held
/// every county of a 14-district city, and reading them held 7.6 MiB of raw pages and 6.4 of
/// decoded batches at the pipeline's peak under 8 MiB (heaptrack).
///
/// A group is cut where the county changes once it has `MIN_GROUP_ROWS`: a handful of rows
/// (of no code, of a code that is no county's) join a county's group, and rows that do not
/// come county by county (a part of an earlier layout, sorted by date first, losing a
/// corrected sheet's rows) are not cut into thousands of tiny groups. The cuts depend on the
/// rows alone, so the bytes do too. Groups of at least 8,192 rows, as before, put two or three
/// counties of a city's special-population register in one group (6,500 rows each), and
/// reading a county's rows decoded its neighbours' too: the heap's peak of the 4- and
/// 14-district cities' pipelines under 8 MiB (pages and dictionaries of 26 columns), where one
/// district's was a third lower.
///
/// A mart's groups (`ByCounty::bounded`) also end when the writer holds `MOST_GROUP_BYTES`:
/// a group is encoded in memory until it is flushed, and the memory budget does not see it.
/// A 14-district city's `stg_returnees_latest`, cut at county changes only, held 7.3 MiB in
/// the writer under an 8 MiB budget, the peak of the whole pipeline (heaptrack).
#[derive(Default)]
pub(super) struct ByCounty {
    /// The county keys of the first and the last row written, once a row is.
    pub(super) first: Option<Option<String>>,
    pub(super) last: Option<Option<String>>,
    /// Whether a group also ends at `MOST_GROUP_BYTES`.
    bounded: bool,
    /// Whether a group ends at every change of county, however few its rows: for a file read
    /// back a county at a time in the same run (`ByCounty::scratch`).
    every_county: bool,
}

/// The county keys of a file's first and last rows (`None` for a row with no code).
pub type Span = (Option<String>, Option<String>);

/// The fewest rows a group holds before a change of county ends it (see `ByCounty`): a
/// parquet write batch.
const MIN_GROUP_ROWS: usize = parquet::file::properties::DEFAULT_WRITE_BATCH_SIZE;
// (the unit test's counties of 2,000 rows and more have a group each; its 3 rows of no code not)
const _: () = assert!(
    MIN_GROUP_ROWS > 3
        && MIN_GROUP_ROWS <= 2_000
        && CHUNK % MIN_GROUP_ROWS == 0
        && super::parquet_io::MART_CHUNK % MIN_GROUP_ROWS == 0
);

/// The most a mart's group holds in the writer (its `memory_size`), checked every
/// `BYTES_CHECKED_ROWS` rows of the group: so the cuts, like the rows', depend on the rows
/// alone (a mart's rows reach the writer in calls of `MART_CHUNK`, its pages laid out by them).
const MOST_GROUP_BYTES: usize = 1 << 20;
const BYTES_CHECKED_ROWS: usize = parquet::file::properties::DEFAULT_WRITE_BATCH_SIZE;
const _: () = assert!(CHUNK % BYTES_CHECKED_ROWS == 0 && super::parquet_io::MART_CHUNK % BYTES_CHECKED_ROWS == 0);

impl ByCounty {
    /// Groups that also end at `MOST_GROUP_BYTES` (a mart's).
    pub(super) fn bounded() -> ByCounty {
        ByCounty { bounded: true, ..Default::default() }
    }

    /// Bounded groups that end at every change of county: a split step's part (`sql::split`),
    /// read back a county at a time, each read skipping the other counties' groups by their
    /// statistics. With small counties sharing a group, each of a 14-district city's 15 county
    /// reads of a key step's 19 buckets decoded all of them.
    pub(super) fn scratch() -> ByCounty {
        ByCounty { bounded: true, every_county: true, ..Default::default() }
    }

    /// The fewest rows a group holds before a change of county ends it.
    fn fewest_rows(&self) -> usize {
        if self.every_county { 1 } else { MIN_GROUP_ROWS }
    }

    pub(super) fn write(
        &mut self,
        writer: &mut ArrowWriter<File>,
        batch: &RecordBatch,
    ) -> Result<(), parquet::errors::ParquetError> {
        let Some(keys) = crate::county::keys(batch) else { return writer.write(batch) };
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let key = |i: usize| keys.is_valid(i).then(|| keys.value(i));
        let fewest = self.fewest_rows();
        if self.last.as_ref().is_some_and(|last| last.as_deref() != key(0)) && writer.in_progress_rows() >= fewest {
            writer.flush()?;
        }
        let mut start = 0;
        for i in crate::county::changes(&keys) {
            if writer.in_progress_rows() + (i - start) >= fewest {
                self.put(writer, &batch.slice(start, i - start))?;
                start = i;
                // (a bounded group may have ended inside the county, and its rest be few)
                if writer.in_progress_rows() >= fewest {
                    writer.flush()?;
                }
            }
        }
        self.put(writer, &batch.slice(start, batch.num_rows() - start))?;
        self.first.get_or_insert_with(|| key(0).map(str::to_string));
        self.last = Some(key(batch.num_rows() - 1).map(str::to_string));
        Ok(())
    }

    /// Writes rows of the group in progress; a bounded one ends it where it holds too much.
    fn put(&self, writer: &mut ArrowWriter<File>, rows: &RecordBatch) -> Result<(), parquet::errors::ParquetError> {
        if !self.bounded {
            return writer.write(rows);
        }
        let mut at = 0;
        while at < rows.num_rows() {
            let len = (BYTES_CHECKED_ROWS - writer.in_progress_rows() % BYTES_CHECKED_ROWS).min(rows.num_rows() - at);
            writer.write(&rows.slice(at, len))?;
            at += len;
            if writer.in_progress_rows() % BYTES_CHECKED_ROWS == 0 && writer.memory_size() >= MOST_GROUP_BYTES {
                writer.flush()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::super::parquet_io::MartWriter;
    use super::super::parquet_io::tests::written;
    use super::*;

    /// Rows of no code, then four counties of 20,000, 3,000, 2,000 and 15,000 rows, with a
    /// text column of `width` characters.
    fn counties(width: usize) -> (Arc<Schema>, RecordBatch) {
        let counties = [(None, 3), (Some("130202"), 20_000), (Some("130203"), 3_000), (Some("130204"), 2_000)];
        let counties = [&counties[..], &[(Some("130207"), 15_000)]].concat();
        let schema = Arc::new(Schema::new(vec![
            Field::new("grid_code", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
            Field::new("note", DataType::Utf8, false),
        ]));
        let codes: StringArray = counties
            .iter()
            .flat_map(|(county, rows)| (0..*rows).map(move |i| county.map(|c| format!("{c}001001{:03}", i % 40))))
            .collect();
        let n: Int64Array = (0..codes.len() as i64).collect();
        let note: StringArray = (0..codes.len()).map(|i| Some(format!("{i:0width$}"))).collect();
        let columns = vec![Arc::new(codes) as ArrayRef, Arc::new(n), Arc::new(note)];
        (schema.clone(), RecordBatch::try_new(schema, columns).unwrap())
    }

    fn groups(path: &std::path::Path) -> Vec<i64> {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
        reader.metadata().row_groups().iter().map(|g| g.num_rows()).collect()
    }

    #[test]
    fn row_groups_hold_a_county_at_a_time_once_they_have_enough_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-0.parquet");
        let (schema, batch) = counties(1);
        // As a warehouse part is written: in batches as they come, groups unbounded in bytes.
        let mut writer = ArrowWriter::try_new(File::create(&path).unwrap(), schema.clone(), None).unwrap();
        let mut by_county = ByCounty::default();
        let mut at = 0;
        for len in [1, 8_191, 11_811, 3, 5_000, 8_192, 700, usize::MAX] {
            let len = len.min(batch.num_rows() - at);
            by_county.write(&mut writer, &batch.slice(at, len)).unwrap();
            at += len;
        }
        writer.close().unwrap();
        // The rows of no code join the first county's group (3 rows are too few for one); each
        // county has its own.
        assert_eq!(groups(&path), [20_003, 3_000, 2_000, 15_000]);
    }

    /// A mart's groups also end where the writer holds `MOST_GROUP_BYTES`, every
    /// `BYTES_CHECKED_ROWS` rows of a group: wide rows give more groups, and the cuts, like
    /// the bytes, depend on the rows, not on how they came.
    #[test]
    fn a_mart_s_row_groups_are_bounded_in_bytes_where_its_rows_alone_say() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-0.parquet");
        let mut counts = Vec::new();
        for width in [1, 100] {
            let (schema, batch) = counties(width);
            let mut file = MartWriter::new(&path, schema.clone());
            file.write(batch.clone()).unwrap();
            assert_eq!(file.span(), Some((None, Some("130207".to_string()))));
            file.finish().unwrap();
            let whole = std::fs::read(&path).unwrap();
            let (_, cut) = written(&path, &schema, &batch, &[1, 8_191, 11_811, 3, 5_000, 8_192, 700]);
            assert!(whole == cut, "the same rows in other batches gave other row groups");
            let groups = groups(&path);
            assert_eq!(groups.iter().sum::<i64>(), 40_003);
            // Each group ends at a check of its bytes, or where a county ends (rows 20,003,
            // 23,003 and 25,003 from the first), or is the last.
            let mut end = 0;
            for g in &groups[..groups.len() - 1] {
                end += g;
                assert!(g % BYTES_CHECKED_ROWS as i64 == 0 || [20_003, 23_003, 25_003].contains(&end), "{groups:?}");
            }
            counts.push(groups.len());
        }
        // 100 characters a row more: 4 MB of text, in groups of at most 1 MiB held.
        assert!(counts[1] > counts[0] && counts[1] >= 4, "{counts:?}");
    }

    /// A split step's part, read back a county at a time, has a group per county however few
    /// its rows (and more where the writer holds too much).
    #[test]
    fn a_part_s_row_groups_end_at_every_county() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-0.parquet");
        let (schema, batch) = counties(1);
        let mut file = MartWriter::scratch(&path, schema);
        file.write(batch).unwrap();
        file.finish().unwrap();
        let ends: Vec<i64> = groups(&path).iter().scan(0, |end, g| Some(*end + g).inspect(|e| *end = *e)).collect();
        for county_ends in [3, 20_003, 23_003, 25_003, 40_003] {
            assert!(ends.contains(&county_ends), "{ends:?}");
        }
    }
}
