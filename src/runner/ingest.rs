//! An ingest call: which files are new, in what order they are taken, and batch by batch
//! through reading, duplicates, 退回修改 workbooks and the warehouse.
//!
//! A call can be a year's backlog (15,000 files, a million rows). Holding every file's rows
//! until the end made the peak grow with the number of files (2 GiB for a year), so the files
//! are taken a batch at a time, each written before the next is read, and only the counts and
//! problems of a batch are kept. The order makes a batched call give what ingesting the same
//! files day by day gives: files are ordered by the report date their path gives (folder or
//! file name; files whose path gives none first, as a registry kept at the top of the inbox
//! is), then by path; a batch ends only between two such dates unless one date alone is larger
//! than a batch. Each batch judges duplicates against the warehouse, which holds every earlier
//! batch, resolves grids with the registry as the batches before it left it, and never counts
//! another file of the same call as a correction to replace.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::hash_cache::HashCache;
use super::{Listed, RunError, forms_fingerprint, list_files, load_forms, privacy};
use crate::config::Workspace;
use crate::config::forms::FormConfig;
use crate::ingest::{self, FileResult, IngestOutcome, IngestRequest};
use crate::normalize::grid::Registry;
use crate::privacy::Privacy;
use crate::warehouse::{Known, Replaced, Warehouse, WriteSummary};

/// A batch closes once it has this many files or bytes, at the next change of date. Measured
/// on the sample district: about 40 files and 2 MiB a day, so a batch is about a week, and the
/// peak stays near a single day's (see BENCHMARKS.md, "A year's backlog in one call").
const BATCH_FILES: usize = 256;
const BATCH_BYTES: u64 = 64 << 20;

/// What an ingest run did.
pub struct IngestReport {
    /// Every file's sheets with their rows, counts and problems: only from `ingest`;
    /// `ingest_each` hands each file over instead and leaves `outcome.files` empty.
    pub outcome: IngestOutcome,
    /// How many files were read.
    pub files_read: usize,
    /// Files skipped because their content is already in the ledger.
    pub already_ingested: Vec<String>,
    /// Files left behind by an interrupted run and removed first.
    pub reconciled: Vec<PathBuf>,
    /// 退回修改 workbooks written for the communities.
    pub returns: Vec<PathBuf>,
    pub written: WriteSummary,
    /// How many batches the files were taken in.
    pub batches: usize,
}

/// A file to ingest.
struct Candidate {
    path: PathBuf,
    /// Relative to the inbox, `/`-separated: what ordering and the ledger use.
    relative: String,
    bytes: u64,
}

/// The settings every batch shares.
struct Call<'a> {
    ws: &'a Workspace,
    run_date: NaiveDate,
    threads: usize,
    forms: &'a [FormConfig],
    privacy: &'a Privacy,
    warehouse: &'a Warehouse,
    inbox: &'a Path,
    fingerprint: &'a str,
    /// Every file of the call, by sha256: none of them replaces another as a correction.
    shas: &'a BTreeSet<String>,
    /// Files tried again: their sha256 and the path their earlier ledger rows have.
    unfinished: &'a HashMap<String, String>,
}

/// Ingests `paths` (default: the whole inbox) into the workspace's warehouse for `run_date`,
/// and returns every file's outcome, rows included: for tools and tests that look at single
/// rows. Memory grows with the files of the call; the commands use `ingest_each`.
pub fn ingest(
    ws: &Workspace,
    run_date: NaiveDate,
    paths: &[PathBuf],
    threads: usize,
) -> Result<IngestReport, RunError> {
    let mut files = Vec::new();
    let mut report = ingest_each(ws, run_date, paths, threads, &mut |file| files.push(file))?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    report.outcome.files = files;
    Ok(report)
}

/// Ingests `paths` (default: the whole inbox) into the workspace's warehouse for `run_date`,
/// handing `each` every file once its rows are written, in the order they were taken. Nothing
/// of a file is kept after that, so memory does not grow with the files of the call.
pub fn ingest_each(
    ws: &Workspace,
    run_date: NaiveDate,
    paths: &[PathBuf],
    threads: usize,
    each: &mut dyn FnMut(FileResult),
) -> Result<IngestReport, RunError> {
    let forms = load_forms(ws)?;
    let privacy = privacy(ws)?;
    let warehouse = Warehouse::new(ws.path(&ws.config.paths.warehouse));
    let (reconciled, index) = warehouse.recover()?;
    let fingerprint = forms_fingerprint(ws);
    let inbox = ws.inbox();
    let listed = if paths.is_empty() {
        list_files(&inbox)?
    } else {
        let mut all = Vec::new();
        for p in paths {
            if p.is_dir() { all.extend(list_files(p)?) } else { all.push(Listed { path: p.clone(), metadata: None }) }
        }
        all
    };
    // A file is done once ingested, unless it could not be read or a sheet matched no form and
    // the forms have changed since: then it is tried again (`unfinished`: its hash and the path
    // it had).
    let mut files = Vec::new();
    let mut already_ingested = Vec::new();
    let mut unfinished: HashMap<String, String> = HashMap::new();
    let mut shas = BTreeSet::new();
    let mut hashes = HashCache::load(ws.path(&ws.config.paths.runs).join("inbox-hashes.tsv"));
    for Listed { path, metadata } in listed {
        let inside = path.strip_prefix(&inbox).ok();
        let relative = inside.unwrap_or(&path).to_string_lossy().replace('\\', "/");
        // Remembered by its path in the inbox, or outside it by its full path.
        let key = match inside {
            Some(_) => relative.clone(),
            None => std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone()).to_string_lossy().into_owned(),
        };
        let (sha, bytes) = hashes.hashed(&path, &key, metadata.as_ref());
        let Some(sha) = sha else {
            files.push(Candidate { path, relative, bytes });
            continue;
        };
        match warehouse.known(&index, &sha, &fingerprint)? {
            Known::Done => {
                already_ingested.push(relative);
                continue;
            }
            Known::Retry(path_then) => {
                unfinished.insert(sha.clone(), path_then);
            }
            Known::New => {}
        }
        shas.insert(sha);
        files.push(Candidate { path, relative, bytes });
    }
    drop(index);
    // Only a shortcut for the next run: one that cannot be written means hashing again then.
    let _ = hashes.save(paths.is_empty());
    let call = Call {
        ws,
        run_date,
        threads,
        forms: &forms,
        privacy: &privacy,
        warehouse: &warehouse,
        inbox: &inbox,
        fingerprint: &fingerprint,
        shas: &shas,
        unfinished: &unfinished,
    };
    let batches = plan(files, run_date);
    let mut registry = warehouse.registry()?;
    let mut returns = BTreeSet::new();
    let mut written = WriteSummary::default();
    let mut files_read = 0;
    for batch in &batches {
        let (outcome, summary) = call.batch(batch, registry, &mut returns)?;
        for (table, rows) in summary.rows {
            *written.rows.entry(table).or_default() += rows;
        }
        written.files_written += summary.files_written;
        written.replaced.extend(summary.replaced);
        written.compacted.absorb(summary.compacted);
        registry = outcome.registry;
        files_read += outcome.files.len();
        outcome.files.into_iter().for_each(&mut *each);
    }
    Ok(IngestReport {
        outcome: IngestOutcome { files: Vec::new(), registry },
        files_read,
        already_ingested,
        reconciled,
        returns: returns.into_iter().collect(),
        written,
        batches: batches.len(),
    })
}

/// The files in the order they are taken, cut into batches (see the module's comment). There
/// is always at least one batch, if empty: a call with nothing new still writes nothing and
/// reports the registry in force.
fn plan(files: Vec<Candidate>, run_date: NaiveDate) -> Vec<Vec<Candidate>> {
    let mut keyed: Vec<(Option<NaiveDate>, Candidate)> =
        files.into_iter().map(|c| (ingest::context::path_date(&c.relative, run_date), c)).collect();
    keyed.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.relative.cmp(&y.relative)));
    let mut batches: Vec<Vec<Candidate>> = vec![Vec::new()];
    let (mut count, mut bytes) = (0usize, 0u64);
    let mut last_date: Option<Option<NaiveDate>> = None;
    for (date, candidate) in keyed {
        let full = count >= BATCH_FILES || bytes >= BATCH_BYTES;
        // A batch closes between two dates, or within one date grown past twice the limit.
        let at_boundary = last_date.is_some_and(|d| d != date);
        if full && (at_boundary || count >= 2 * BATCH_FILES || bytes >= 2 * BATCH_BYTES) {
            batches.push(Vec::new());
            (count, bytes) = (0, 0);
        }
        count += 1;
        bytes += candidate.bytes;
        last_date = Some(date);
        batches.last_mut().expect("never empty").push(candidate);
    }
    batches
}

impl Call<'_> {
    /// Reads, judges and writes one batch; returns its outcome (rows included) and what it
    /// wrote, and adds the 退回修改 workbooks it wrote to `returns`.
    fn batch(
        &self,
        batch: &[Candidate],
        registry: Registry,
        returns: &mut BTreeSet<PathBuf>,
    ) -> Result<(IngestOutcome, WriteSummary), RunError> {
        let (forms, privacy, warehouse) = (self.forms, self.privacy, self.warehouse);
        let mut outcome = ingest::ingest(IngestRequest {
            inbox: self.inbox,
            files: batch.iter().map(|c| c.path.clone()).collect(),
            forms,
            run_date: self.run_date,
            registry,
            threads: self.threads,
            key: &privacy.key,
            stream_from_bytes: self.ws.stream_from_bytes(),
            limits: self.ws.ingest_limits(),
        });
        // Duplicates are judged against the warehouse too, except against the files this run
        // corrects.
        let mut superseded = warehouse.superseded(&outcome, self.shas)?;
        // A file tried again replaces its own earlier ledger rows.
        for file in &outcome.files {
            if let Some(path) = self.unfinished.get(&file.sha256) {
                superseded.insert(Replaced {
                    path: path.clone(),
                    sha256: file.sha256.clone(),
                    report_date: String::new(),
                    form: None,
                    sheet: None,
                });
            }
        }
        let dates = outcome.report_dates();
        let prior = warehouse.prior_identities(forms, &superseded, &dates)?;
        // Duplicates are judged in processing order; large sheets are read now, their rows judged
        // and written as they come.
        let registry = std::mem::take(&mut outcome.registry);
        let streaming = ingest::dedup::Streaming {
            forms,
            registry: &registry,
            run_date: self.run_date,
            key: &privacy.key,
            threads: self.threads,
        };
        let mut streamed = crate::warehouse::streamed::StreamedTables::new(warehouse, privacy);
        ingest::dedup::judge_all(&mut outcome, &streaming, &prior, &mut streamed)?;
        outcome.registry = registry;
        let streamed = streamed.finish()?;
        // The 退回修改 workbooks before the warehouse: the ledger, written last, marks the files
        // as done, so a run killed in between must not leave them without their returns.
        let reports = self.ws.path(&self.ws.config.paths.reports);
        crate::report::returns::write_all(
            &outcome.files,
            self.inbox,
            &reports,
            forms,
            &outcome.registry,
            privacy,
            returns,
        )?;
        let written = warehouse.write(
            &outcome,
            forms,
            privacy,
            &self.run_date.to_string(),
            &superseded,
            self.fingerprint,
            streamed,
        )?;
        Ok((outcome, written))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(relative: &str, bytes: u64) -> Candidate {
        Candidate { path: PathBuf::from(relative), relative: relative.to_string(), bytes }
    }

    fn names(batches: &[Vec<Candidate>]) -> Vec<Vec<&str>> {
        batches.iter().map(|b| b.iter().map(|c| c.relative.as_str()).collect()).collect()
    }

    #[test]
    fn files_are_taken_by_the_date_their_path_gives_then_by_path() {
        let run = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let files = vec![
            candidate("2022-05-10/b.xlsx", 1),
            candidate("2022-05-09/z.xlsx", 1),
            candidate("台账/网格台账.xlsx", 1),
            candidate("2022-05-10/a.xlsx", 1),
            candidate("x/东坪村_20220509.xlsx", 1),
        ];
        let batches = plan(files, run);
        assert_eq!(
            names(&batches),
            vec![vec![
                "台账/网格台账.xlsx",
                "2022-05-09/z.xlsx",
                "x/东坪村_20220509.xlsx",
                "2022-05-10/a.xlsx",
                "2022-05-10/b.xlsx"
            ]]
        );
    }

    #[test]
    fn a_batch_closes_between_dates_and_a_huge_date_is_split() {
        let run = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let mut files = Vec::new();
        for day in 1..=3 {
            for i in 0..200 {
                files.push(candidate(&format!("2022-05-0{day}/{i:03}.xlsx"), 1));
            }
        }
        for i in 0..(2 * BATCH_FILES + 10) {
            files.push(candidate(&format!("2022-05-04/{i:04}.xlsx"), 1));
        }
        let batches = plan(files, run);
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        // 05-01 and 05-02 together pass the limit; 05-03 starts a batch, 05-04 is split once
        // it is twice the limit.
        assert_eq!(sizes, vec![400, 200 + 2 * BATCH_FILES - 200, 210]);
        let dates =
            |b: &Vec<Candidate>| -> BTreeSet<String> { b.iter().map(|c| c.relative[..10].to_string()).collect() };
        assert_eq!(dates(&batches[0]), BTreeSet::from(["2022-05-01".into(), "2022-05-02".into()]));
        assert!(plan(Vec::new(), run).len() == 1);
    }
}
