//! A mart's rows sorted within the memory budget.
//!
//! Every mart is sorted (by its rows' counties, then by every column: `super::run::sorted`), so
//! that the same inputs give the same bytes. A sort past the budget spills, but what it holds
//! beside what the budget counts grows with its rows: each batch's sort keys in row form, its
//! sorted copy, a batch of each spilled run read back to merge. Rows the budget does not hold
//! four times over (`super::split::fits_whole`) are therefore sorted a county at a time
//! ([`county_after_county`]), holding a county's rows whatever the city's size: a split step's
//! parts (`super::split`), and in a city, the rows of a step that runs whole
//! ([`materialise_whole`]).

use std::path::Path;

use datafusion::prelude::{DataFrame, SessionContext};

use super::SqlError;
use super::run::{as_written, materialise, sorted, write_into};
use super::scope::{Part, Scope, ScopedTable};
use super::split::{MOST_PARTS, budget, county_keys, fits_whole};
use crate::warehouse::parquet_io;

/// The folder inside the warehouse where a step's scratch files are written while it runs.
pub const PARTS: &str = "_parts";

/// Runs `run` with a folder of its own for step `name`'s scratch files, empty, and removes the
/// folder after it, whether or not it ran: nothing of a step's scratch outlives it.
pub(super) async fn in_scratch<T>(
    warehouse_root: &Path,
    name: &str,
    run: impl AsyncFnOnce(&Path) -> Result<T, SqlError>,
) -> Result<T, SqlError> {
    let folder = warehouse_root.join(PARTS).join(name);
    let io = |source| SqlError::Io { path: folder.clone(), source };
    match std::fs::remove_dir_all(&folder) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    std::fs::create_dir_all(&folder).map_err(io)?;
    let done = run(&folder).await;
    let removed = std::fs::remove_dir_all(&folder).map_err(io);
    let _ = std::fs::remove_dir(warehouse_root.join(PARTS)); // if no other step's files are there
    let done = done?;
    removed?;
    Ok(done)
}

/// Writes `df`, the SQL of step `name` that runs whole, to its mart at `path`: its rows.
///
/// In a city (a session that splits by county) under a memory budget, its rows are written
/// first as they come, to a scratch file, then sorted from it: at once if the budget holds
/// them, else a county at a time. Sorted at once, the 9,771 grids of a 14-district city's
/// registry in force (`stg_registry`) held the heap's peak of its pipeline under 8 MiB: 10.3
/// MiB, against 8.4 for 4 districts. Elsewhere (one district, no budget, Ballista, rows with
/// no code column) they are sorted as they come.
pub async fn materialise_whole(
    ctx: &SessionContext,
    df: DataFrame,
    path: &Path,
    name: &str,
    warehouse_root: &Path,
) -> Result<usize, SqlError> {
    let scope = match Scope::of(ctx) {
        Some(scope) if scope.by_county && budget(ctx).is_some() => scope,
        _ => return materialise(df, path, name).await,
    };
    let (df, schema) = as_written(df, name)?;
    if super::scope::county_key(&schema).is_none() {
        return materialise(df, path, name).await;
    }
    in_scratch(warehouse_root, name, async |folder| {
        let file = folder.join("whole.parquet");
        let mut scratch = parquet_io::MartWriter::unsorted_scratch(&file, schema.clone());
        write_into(df, &schema, &mut scratch, name).await?;
        let rows = scratch.finish()?;
        sorted_from(ctx, &scope, &file, path, name, rows).await
    })
    .await
}

/// Writes the `rows` of `scratch` (a step's scratch file, or its folder of parts) to the mart
/// at `path`, sorted: at once if the budget holds them (`fits_whole`), else a county at a time.
pub(super) async fn sorted_from(
    ctx: &SessionContext,
    scope: &std::sync::Arc<Scope>,
    scratch: &Path,
    path: &Path,
    name: &str,
    rows: usize,
) -> Result<usize, SqlError> {
    let context = format!("step `{name}`: its rows in `{}`", scratch.display());
    let absolute =
        std::path::absolute(scratch).map_err(|source| SqlError::Io { path: scratch.to_path_buf(), source })?;
    // (a folder is read as one by its final `/`; with the session's Parquet options, as every
    // table is)
    let location = match scratch.is_dir() {
        true => format!("{}/", absolute.display()),
        false => absolute.display().to_string(),
    };
    let all = ctx.read_parquet(location, Default::default()).await.map_err(SqlError::engine(&context))?;
    if !fits_whole(ctx, rows) {
        if let Some(rows) = county_after_county(ctx, scope, all.clone(), path, name, &context).await? {
            return Ok(rows);
        }
    }
    tracing::debug!(step = name, rows, "parts sorted at once");
    materialise(all, path, name).await
}

/// Writes the rows of `all` (a step's parts) to the mart at `path` sorted a county at a time
/// (the rows of none first): their count, or `None` if the rows have no code column or more
/// than [`MOST_PARTS`] county keys (then the rows are to be sorted at once).
///
/// The buckets of a key hold rows of every county, and sorting the city's rows at once held
/// the heap's peak of a 14-district city's pipeline under 8 MiB (`stg_returnees_latest`: its
/// spilled runs read back, 4 MiB, merged, 2.3 MiB, and written). A county's run reads that
/// county's row groups of every part (a part's groups hold a county each, `Written::Part`) and
/// sorts its rows: its memory is a county's, whatever the city's size, and the parts are
/// decoded once in all. Each county's sorted rows go straight on in the mart, as the rows of
/// one sort would.
pub(super) async fn county_after_county(
    ctx: &SessionContext,
    scope: &std::sync::Arc<Scope>,
    all: DataFrame,
    path: &Path,
    name: &str,
    context: &str,
) -> Result<Option<usize>, SqlError> {
    let parts = std::sync::Arc::new(ScopedTable::new(all.into_view(), scope.clone()));
    let Some(key) = parts.key() else { return Ok(None) };
    let found = county_keys(ctx, &parts, key, context).await?;
    let keyless = found.iter().any(Option::is_none);
    let mut keys: Vec<String> = found.into_iter().flatten().collect();
    if keys.len() > MOST_PARTS {
        return Ok(None);
    }
    keys.sort();
    // The rows with no key sort first; read only if there are some, as a scan cannot skip to them.
    let rest = keyless.then(|| Part::Rest(keys.clone()));
    let (_, schema) = sorted(ctx.read_table(parts.clone()).map_err(SqlError::engine(context))?, name)?;
    let mut mart = parquet_io::MartWriter::new(path, schema.clone());
    let counties = keys.len();
    for part in rest.into_iter().chain(keys.into_iter().map(Part::County)) {
        let _narrowed = scope.enter(part);
        let (df, _) = sorted(ctx.read_table(parts.clone()).map_err(SqlError::engine(context))?, name)?;
        write_into(df, &schema, &mut mart, name).await?;
    }
    tracing::debug!(step = name, counties, "parts sorted county after county");
    Ok(Some(mart.finish()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A city's rows in no order (the rows of no code first, codes that are no county's among
    /// them).
    fn city(rows: usize) -> Vec<(Option<String>, Option<String>, i64)> {
        let counties = [Some("130203"), Some("130202"), None, Some("130273"), Some("未知")];
        (0..rows as i64)
            .map(|i| {
                let county = counties[(i * 7 % 5) as usize];
                let town = county.filter(|_| i % 3 != 0).map(|c| format!("{c}{:03}", i % 4));
                let grid = county.filter(|_| i % 3 != 1).map(|c| format!("{c}{:03}001001{:02}", i % 4, i % 17));
                (town, grid, i * 7919 % 1000)
            })
            .collect()
    }

    fn borrowed(rows: &[(Option<String>, Option<String>, i64)]) -> Vec<(Option<&str>, Option<&str>, i64)> {
        rows.iter().map(|(t, g, n)| (t.as_deref(), g.as_deref(), *n)).collect()
    }

    /// Sorted a county at a time, they give the bytes of one sort of them.
    #[tokio::test]
    async fn rows_sorted_a_county_at_a_time_give_the_bytes_of_one_sort() {
        let rows = city(20_000);
        let (ctx, scope) = crate::sql::scope::tests::session_with(&borrowed(&rows));
        let dir = tempfile::tempdir().unwrap();
        let (once, apart) = (dir.path().join("once.parquet"), dir.path().join("apart.parquet"));
        let df = ctx.table("t").await.unwrap();
        assert_eq!(materialise(df.clone(), &once, "t").await.unwrap(), 20_000);
        assert_eq!(county_after_county(&ctx, &scope, df, &apart, "t", "test").await.unwrap(), Some(20_000));
        assert!(std::fs::read(&once).unwrap() == std::fs::read(&apart).unwrap(), "the bytes differ");
    }

    /// A step that runs whole in a city gives the bytes of one sort, whether the budget holds
    /// its rows (sorted at once from its scratch file) or not (a county at a time), and leaves
    /// no scratch file.
    #[tokio::test]
    async fn a_whole_step_of_a_city_gives_the_bytes_of_one_sort_under_any_budget() {
        let rows = city(20_000);
        let dir = tempfile::tempdir().unwrap();
        let (ctx, _) = crate::sql::scope::tests::session_with(&borrowed(&rows));
        let once = dir.path().join("once.parquet");
        materialise(ctx.table("t").await.unwrap(), &once, "t").await.unwrap();
        // 20,000 rows fit 1 GiB four times over, not 24 MiB (the engine's own settings: a sort keeps 10 MB to merge).
        assert!(!fits_whole(&crate::sql::scope::tests::city_session(&[], true, Some(24 << 20)).0, rows.len()));
        for budget in [24 << 20, 1 << 30] {
            let (ctx, _) = crate::sql::scope::tests::city_session(&borrowed(&rows), true, Some(budget));
            let mart = dir.path().join(format!("{budget}.parquet"));
            let df = ctx.table("t").await.unwrap();
            assert_eq!(materialise_whole(&ctx, df, &mart, "t", dir.path()).await.unwrap(), 20_000);
            assert!(std::fs::read(&once).unwrap() == std::fs::read(&mart).unwrap(), "the bytes differ at {budget}");
            assert!(!dir.path().join(PARTS).exists(), "scratch left behind");
        }
    }
}
