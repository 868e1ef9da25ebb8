//! The county (区县) a row belongs to, which several stages need: the warehouse lays out a
//! part's rows county by county, a pipeline's marts too, and a city's split steps run one
//! county at a time (`sql::scope`).
//!
//! A row's county key is the first six characters of the first of its code columns that has a
//! value, finest first: GB/T 10114 codes of grids, communities and towns begin with their
//! county's six digits, and steps join on grids, so a row whose town and grid disagree (a
//! typing error) goes where its grid's rows go. A key that is not six digits (a code typed as
//! `未知`) is no county's, and a row with no code has none.

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Schema};

/// The columns that place a row in a county, in the order they are tried.
pub const CODE_COLUMNS: [&str; 5] = ["grid_code", "sub_grid_code", "community_code", "town_code", "county_code"];

/// The length of a county's code (GB/T 2260), the prefix of every code under it.
pub const COUNTY_DIGITS: usize = 6;

/// Whether a county key is a county's code (six ASCII digits).
pub fn is_county(key: &str) -> bool {
    key.len() == COUNTY_DIGITS && key.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a column of this type can hold a code (text of any of Arrow's layouts).
fn is_text(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

/// The code columns a schema has, as text, in the order they are tried.
pub fn code_columns(schema: &Schema) -> Vec<&'static str> {
    CODE_COLUMNS.into_iter().filter(|name| schema.field_with_name(name).is_ok_and(|f| is_text(f.data_type()))).collect()
}

/// The county keys of a batch's rows; `None` for a batch with no code column.
pub fn keys(batch: &RecordBatch) -> Option<StringArray> {
    let codes: Vec<StringArray> = code_columns(batch.schema_ref())
        .into_iter()
        .filter_map(|name| batch.column_by_name(name))
        .filter_map(as_utf8)
        .collect();
    if codes.is_empty() {
        return None;
    }
    Some(
        (0..batch.num_rows())
            .map(|row| {
                let code = codes.iter().find(|c| c.is_valid(row))?.value(row);
                // The first six characters, as SQL's `left(code, 6)` takes them.
                let end = code.char_indices().nth(COUNTY_DIGITS).map_or(code.len(), |(i, _)| i);
                Some(&code[..end])
            })
            .collect(),
    )
}

fn as_utf8(column: &ArrayRef) -> Option<StringArray> {
    let column = arrow::compute::cast(column, &DataType::Utf8).ok()?;
    column.as_any().downcast_ref::<StringArray>().cloned()
}

/// The rows at which a county's rows begin after another's: each `i > 0` whose key differs
/// from row `i - 1`'s.
pub fn changes(keys: &StringArray) -> impl Iterator<Item = usize> + '_ {
    let key = |i: usize| keys.is_valid(i).then(|| keys.value(i));
    (1..keys.len()).filter(move |&i| key(i) != key(i - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn a_row_s_county_is_that_of_its_finest_code_and_rows_without_one_have_none() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("town_code", DataType::Utf8, true),
            Field::new("grid_code", DataType::LargeUtf8, true),
            Field::new("n", DataType::Int64, false),
        ]));
        let towns = StringArray::from(vec![Some("130202001"), None, Some("130203002"), None, Some("未知的街道"), None]);
        let grids = arrow::array::LargeStringArray::from(vec![
            Some("13020300100100100"), // the grid wins over the town
            Some("13020300100100100"),
            None,
            None,
            None,
            Some("网格一二三四五六七"),
        ]);
        let n = arrow::array::Int64Array::from(vec![0i64; 6]);
        let batch = RecordBatch::try_new(schema, vec![Arc::new(towns), Arc::new(grids), Arc::new(n)]).unwrap();
        let found = keys(&batch).unwrap();
        let got: Vec<Option<&str>> = (0..found.len()).map(|i| found.is_valid(i).then(|| found.value(i))).collect();
        assert_eq!(
            got,
            [Some("130203"), Some("130203"), Some("130203"), None, Some("未知的街道"), Some("网格一二三四")]
        );
        assert_eq!(changes(&found).collect::<Vec<_>>(), [3, 4, 5]);
        assert!(is_county("130203") && !is_county("未知的街道") && !is_county("13020a"));

        let plain = RecordBatch::try_from_iter([("n", Arc::new(arrow::array::Int64Array::from(vec![1])) as ArrayRef)]);
        assert!(keys(&plain.unwrap()).is_none());
    }
}
