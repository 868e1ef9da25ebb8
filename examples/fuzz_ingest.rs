//! A fuzz harness on the stable toolchain: byte and structure mutations of the committed
//! workbooks and CSVs, each ingested the way `wangge ingest` reads one file (sniffing, the
//! size checks, calamine or our CSV/HTML readers, header and form detection, row validation
//! with every normaliser), then every cell through the normalisers and the privacy masking.
//!
//!     cargo run --example fuzz_ingest -- [--inputs N] [--from I] [--seed S] [--threads T] [--out DIR]
//!
//! A finding is a panic (caught per file by the ingest, but a bug all the same), an input
//! slower than a second, or an abort (the process dies; the input it was on is left in
//! `DIR/work-<thread>/`). Findings are saved under `DIR/` (default `target/fuzz`); the figures
//! are printed and written to BENCHMARKS.md. The same seed gives the same inputs.

#[path = "common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wangge::config::forms::{FieldType, load_forms};
use wangge::ingest::limits::Limits;
use wangge::ingest::{IngestRequest, ingest};
use wangge::normalize::grid::Registry;
use wangge::normalize::value::{self, Cell};

/// SplitMix64: small, stable, ours.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n.max(1) as u128) >> 64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Text that has broken readers and normalisers somewhere.
const INTERESTING: &[&str] = &[
    "外籍人员暂无身份证号码",
    "(已迁出)11010519491231002X",
    "１１０１０５１９４９１２３１００２ｘ",
    "10000年1月1日",
    "1022/5/10",
    "0年0月0日",
    "2月30日",
    "99999999999999999999",
    "-1",
    "1e308",
    "NaN",
    "=cmd|' /C calc'!A0",
    "@SUM(1)",
    "+86 138-1234-5678",
    "13812345678/13987654321、0315-2802605",
    "\u{0}\u{7}\u{1b}[31m",
    "\u{feff}\u{200b}",
    "𝟙𝟚𝟛",
    "合计",
    "注：",
    "无",
    "../../etc/passwd",
    "A1:B9223372036854775808",
    "XFD1048577",
    "&lol9;",
    "&#0;",
    "]]>",
    "<row r=\"0\">",
    "荣馨园社区第99网格",
    "'",
    "",
];

/// Numbers that have overflowed something.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "9223372036854775808",
    "1048577",
    "16385",
    "99999999",
];

struct Seed {
    name: String,
    bytes: Vec<u8>,
    /// The parts of a zip package, to mutate its XML and zip it again.
    parts: Option<Vec<(String, Vec<u8>)>>,
}

fn seeds(root: &Path) -> Vec<Seed> {
    let mut paths = Vec::new();
    for dir in [
        "tests/fixtures",
        "tests/fixtures/quirks",
        "tests/fixtures/hostile/rows",
        "tests/fixtures/hostile/files",
        "sample-data/inbox/2022-05-10",
    ] {
        collect(&root.join(dir), &mut paths);
    }
    paths.sort();
    paths
        .into_iter()
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() < 300_000))
        .filter(|p| !p.extension().is_some_and(|e| e == "py"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let parts = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).ok().map(|mut z| {
                (0..z.len())
                    .filter_map(|i| {
                        let mut entry = z.by_index(i).ok()?;
                        let mut data = Vec::new();
                        // At most 1 MiB of a part: the zip bombs among the seeds hold 64 MiB and more,
                        // and a re-zipped copy of it would time the reading of a large sheet.
                        entry.by_ref().take(1 << 20).read_to_end(&mut data).ok()?;
                        Some((entry.name().ok()?.to_string(), data))
                    })
                    .collect()
            });
            Seed { name: p.file_name().unwrap().to_string_lossy().into_owned(), bytes, parts }
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if dir.ends_with("rows") {
                collect(&p, out);
            }
        } else {
            out.push(p);
        }
    }
}

/// One input: a seed with one to four mutations.
fn mutate(seed: &Seed, rng: &mut Rng) -> Vec<u8> {
    let structural = seed.parts.is_some() && rng.below(3) > 0;
    if structural {
        let mut parts = seed.parts.clone().unwrap();
        let xml: Vec<usize> =
            (0..parts.len()).filter(|&i| parts[i].0.ends_with(".xml") || parts[i].0.ends_with(".rels")).collect();
        if !xml.is_empty() {
            for _ in 0..1 + rng.below(3) {
                let i = *rng.pick(&xml);
                mutate_text(&mut parts[i].1, rng);
            }
        }
        if rng.below(10) == 0 && parts.len() > 1 {
            let drop = rng.below(parts.len());
            parts.remove(drop);
        }
        return zip_parts(&parts, rng.below(2) == 0);
    }
    let mut bytes = seed.bytes.clone();
    for _ in 0..1 + rng.below(4) {
        mutate_bytes(&mut bytes, rng);
    }
    if seed.parts.is_none() && rng.below(2) == 0 {
        mutate_text(&mut bytes, rng);
    }
    bytes
}

fn mutate_bytes(b: &mut Vec<u8>, rng: &mut Rng) {
    if b.is_empty() {
        b.extend_from_slice(rng.pick(INTERESTING).as_bytes());
        return;
    }
    let at = rng.below(b.len());
    match rng.below(6) {
        0 => b[at] ^= 1 << rng.below(8),
        1 => b[at] = *rng.pick(&[0u8, 0xFF, b'<', b'"', b'0', b'9', 0x80, 0xE4]),
        2 => {
            let n = 1 + rng.below(64.min(b.len() - at));
            b.drain(at..at + n);
        }
        3 => {
            let len = 1 + rng.below(256.min(b.len() - at));
            let chunk = b[at..at + len].to_vec();
            let to = rng.below(b.len());
            b.splice(to..to, chunk);
        }
        4 => b.truncate(at),
        _ => {
            let text = rng.pick(INTERESTING).as_bytes().to_vec();
            b.splice(at..at, text);
        }
    }
}

/// A change to XML or CSV text: a number made extreme, a value replaced, an element cut.
fn mutate_text(b: &mut Vec<u8>, rng: &mut Rng) {
    if b.is_empty() {
        return;
    }
    let at = rng.below(b.len());
    match rng.below(4) {
        0 => {
            // The next run of digits becomes an extreme number.
            if let Some(start) = b[at..].iter().position(u8::is_ascii_digit).map(|p| at + p) {
                let end = b[start..].iter().position(|c| !c.is_ascii_digit()).map_or(b.len(), |p| start + p);
                b.splice(start..end, rng.pick(NUMBERS).bytes());
            }
        }
        1 => {
            // The next text between `>` and `<` (or between commas) becomes interesting text.
            let open = b[at..].iter().position(|c| *c == b'>' || *c == b',').map(|p| at + p + 1);
            if let Some(start) = open {
                let end = b[start..]
                    .iter()
                    .position(|c| *c == b'<' || *c == b',' || *c == b'\n')
                    .map_or(b.len(), |p| start + p);
                let text = rng.pick(INTERESTING).replace('&', if rng.below(2) == 0 { "&" } else { "&amp;" });
                b.splice(start..end, text.bytes());
            }
        }
        2 => {
            // An element (or line) cut out.
            if let Some(start) = b[at..].iter().position(|c| *c == b'<' || *c == b'\n').map(|p| at + p) {
                let end =
                    b[start + 1..].iter().position(|c| *c == b'<' || *c == b'\n').map_or(b.len(), |p| start + 1 + p);
                b.drain(start..end);
            }
        }
        _ => {
            // An element (or line) repeated.
            if let Some(start) = b[at..].iter().position(|c| *c == b'<' || *c == b'\n').map(|p| at + p) {
                let end =
                    b[start + 1..].iter().position(|c| *c == b'<' || *c == b'\n').map_or(b.len(), |p| start + 1 + p);
                let piece = b[start..end].to_vec();
                for _ in 0..1 + rng.below(3) {
                    b.splice(end..end, piece.iter().copied());
                }
            }
        }
    }
}

fn zip_parts(parts: &[(String, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if deflate { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in parts {
        if zip.start_file(name.as_str(), options).is_err() || zip.write_all(data).is_err() {
            continue;
        }
    }
    zip.finish().map(|c| c.into_inner()).unwrap_or_default()
}

/// Every cell through the normalisers and the masking, as any column of any form could take it.
fn normalise_all(cells: &[Vec<Cell>], run: chrono::NaiveDate, privacy: &wangge::privacy::Privacy) {
    for row in cells.iter().take(200) {
        for cell in row.iter().take(64) {
            let _ = value::citizen_id(cell, run);
            let _ = value::date(cell, run);
            let _ = value::phones(cell);
            let _ = value::integer(cell);
            let _ = value::gender(cell);
            let _ = value::boolean(cell);
            let shown = cell.display();
            let _ = wangge::privacy::redact(&shown);
            let _ = privacy.show(&shown, Some(FieldType::CitizenId));
            let _ = privacy.show(&shown, Some(FieldType::Phone));
        }
    }
}

fn main() {
    wangge::configure_allocator();
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let inputs: u64 = arg("--inputs").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    // The inputs are numbered; `--from N` starts at input N (to replay a stretch of a long run).
    let from: u64 = arg("--from").and_then(|v| v.parse().ok()).unwrap_or(0);
    let seed: u64 = arg("--seed").and_then(|v| v.parse().ok()).unwrap_or(1);
    let threads: usize = arg("--threads").and_then(|v| v.parse().ok()).unwrap_or(2);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = arg("--out").map(PathBuf::from).unwrap_or_else(|| root.join("target/fuzz"));
    std::fs::create_dir_all(&out).unwrap();

    let forms = load_forms(&root.join("pipelines/forms")).expect("the bundled forms load");
    let run = chrono::NaiveDate::from_ymd_opt(2022, 5, 10).unwrap();
    let key = vec![7u8; 32];
    let privacy = wangge::privacy::Privacy { key: key.clone(), store_raw_ids: false, store_raw_phones: false };
    // The sample's registry, so that grids resolve and rows get past grid lookup.
    let registry_dir = root.join("sample-data/inbox/台账");
    let registry_files: Vec<PathBuf> = std::fs::read_dir(&registry_dir).unwrap().flatten().map(|e| e.path()).collect();
    let limits = Limits { max_file_bytes: 16 << 20, max_inflated_bytes: 256 << 20, max_cells: 2_000_000 };
    let registry = ingest(IngestRequest {
        inbox: &registry_dir,
        files: registry_files,
        forms: &forms,
        run_date: run,
        registry: Registry::default(),
        threads: 1,
        key: &key,
        stream_from_bytes: u64::MAX,
        limits,
    })
    .registry;
    assert!(!registry.grids.is_empty(), "the sample registry has grids");

    let seeds = seeds(&root);
    println!("fuzz_ingest: {} seed files, {inputs} inputs, seed {seed}, {threads} threads", seeds.len());

    // Every panic is a finding, even one the ingest catches: count them where they happen. A
    // panic in wangge's own code (a relative `src/…` path) fails the run; one inside a
    // dependency (calamine, under the cargo registry) is caught per file, reported by place,
    // and counted apart: a bug to report upstream, that costs only that file.
    let panics = Arc::new(AtomicU64::new(0));
    let ours = Arc::new(AtomicU64::new(0));
    let places: Arc<Mutex<std::collections::BTreeMap<String, u64>>> = Arc::default();
    {
        let (panics, ours, places) = (panics.clone(), ours.clone(), places.clone());
        std::panic::set_hook(Box::new(move |info| {
            panics.fetch_add(1, Ordering::SeqCst);
            let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            if !at.starts_with('/') {
                ours.fetch_add(1, Ordering::SeqCst);
            }
            if let Ok(mut p) = places.lock() {
                *p.entry(at).or_default() += 1;
            }
        }));
    }

    let next = AtomicU64::new(from);
    let done = AtomicU64::new(0);
    let slow = AtomicU64::new(0);
    let unreadable = AtomicU64::new(0);
    let rows_accepted = AtomicU64::new(0);
    let slowest_us = AtomicU64::new(0);
    let findings = AtomicUsize::new(0);
    let busy: Vec<Mutex<Option<(Instant, u64, String)>>> = (0..threads).map(|_| Mutex::new(None)).collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        // A watchdog: an input that runs for a minute is a hang; say which and stop.
        let watchdog = scope.spawn(|| {
            while done.load(Ordering::SeqCst) < inputs {
                std::thread::sleep(Duration::from_secs(5));
                for (t, b) in busy.iter().enumerate() {
                    if let Some((since, i, name)) = b.lock().unwrap().clone()
                        && since.elapsed() > Duration::from_secs(60)
                    {
                        let at = out.join(format!("work-{t}")).join(name);
                        eprintln!(
                            "fuzz_ingest: input {i} on thread {t} has run for a minute; it is `{}`",
                            at.display()
                        );
                        std::process::exit(3);
                    }
                }
            }
        });
        for t in 0..threads {
            let (seeds, forms, registry, key, privacy, out) = (&seeds, &forms, &registry, &key, &privacy, &out);
            let (next, done, slow, unreadable, rows_accepted, slowest_us, findings, panics, ours, busy) =
                (&next, &done, &slow, &unreadable, &rows_accepted, &slowest_us, &findings, &panics, &ours, &busy);
            scope.spawn(move || {
                let work = out.join(format!("work-{t}"));
                let _ = std::fs::remove_dir_all(&work);
                std::fs::create_dir_all(&work).unwrap();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= from + inputs {
                        break;
                    }
                    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ i);
                    let s = rng.pick(seeds);
                    let bytes = mutate(s, &mut rng);
                    let path = work.join(&s.name);
                    std::fs::write(&path, &bytes).unwrap();
                    let before = panics.load(Ordering::SeqCst);
                    let ours_before = ours.load(Ordering::SeqCst);
                    *busy[t].lock().unwrap() = Some((Instant::now(), i, s.name.clone()));
                    let clock = Instant::now();
                    // Now and then through the streamed reader, as a large workbook would go.
                    let stream_from_bytes = if rng.below(8) == 0 { 0 } else { u64::MAX };
                    let outcome = ingest(IngestRequest {
                        inbox: &work,
                        files: vec![path.clone()],
                        forms,
                        run_date: run,
                        registry: registry.clone(),
                        threads: 1,
                        key,
                        stream_from_bytes,
                        limits,
                    });
                    // Every cell through every normaliser, for one input in four (the ingest above
                    // already ran the normalisers of the columns it recognised).
                    if i % 4 == 0 {
                        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_string();
                        if let Ok((_, sheets)) = wangge::ingest::read::read(bytes.clone(), &extension, &limits) {
                            for sheet in &sheets {
                                normalise_all(&sheet.rows, run, privacy);
                            }
                        }
                    }
                    let took = clock.elapsed();
                    *busy[t].lock().unwrap() = None;
                    for f in &outcome.files {
                        if f.error.is_some() {
                            unreadable.fetch_add(1, Ordering::Relaxed);
                        }
                        rows_accepted.fetch_add(f.sheets.iter().map(|s| s.counts.accepted).sum::<u64>(), Ordering::Relaxed);
                    }
                    slowest_us.fetch_max(took.as_micros() as u64, Ordering::Relaxed);
                    let panicked = panics.load(Ordering::SeqCst) > before;
                    let ours_panicked = ours.load(Ordering::SeqCst) > ours_before;
                    if took > Duration::from_secs(1) {
                        slow.fetch_add(1, Ordering::Relaxed);
                    }
                    // Slow inputs and wangge's own panics are always kept; a dependency's caught
                    // panics, which are many, up to 200.
                    let kind = if ours_panicked {
                        Some("panic-wangge")
                    } else if took > Duration::from_secs(1) {
                        Some("slow")
                    } else if panicked && findings.fetch_add(1, Ordering::SeqCst) < 200 {
                        Some("panic-dependency")
                    } else {
                        None
                    };
                    if let Some(kind) = kind {
                        let _ = std::fs::write(out.join(format!("{kind}-{i}-{}", s.name)), &bytes);
                        if kind != "panic-dependency" {
                            let line = format!("fuzz_ingest: {kind}: input {i} (seed file {}), {} ms\n", s.name, took.as_millis());
                            let _ = std::fs::OpenOptions::new()
                                .create(true)
                                .append(true)
                                .open(out.join("progress.txt"))
                                .and_then(|mut f| f.write_all(line.as_bytes()));
                        }
                    }
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    if n % 50_000 == 0 {
                        let line = format!(
                            "fuzz_ingest: {n} inputs, {:.0} s, panics {} ({} in wangge), slower than 1 s {}, slowest {:.0} ms\n",
                            started.elapsed().as_secs_f64(),
                            panics.load(Ordering::SeqCst),
                            ours.load(Ordering::SeqCst),
                            slow.load(Ordering::SeqCst),
                            slowest_us.load(Ordering::Relaxed) as f64 / 1000.0
                        );
                        eprint!("{line}");
                        let _ = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(out.join("progress.txt"))
                            .and_then(|mut f| f.write_all(line.as_bytes()));
                    }
                }
            });
        }
        let _ = watchdog;
    });
    let elapsed = started.elapsed().as_secs_f64();
    let (n, p, s) = (done.load(Ordering::SeqCst), panics.load(Ordering::SeqCst), slow.load(Ordering::SeqCst));
    let own = ours.load(Ordering::SeqCst);
    let slowest = slowest_us.load(Ordering::Relaxed) as f64 / 1000.0;
    println!(
        "fuzz_ingest: {n} inputs in {elapsed:.0} s ({:.0}/s); panics in wangge {own}, in dependencies {} (caught per file), \
         slower than 1 s {s}, aborts 0; files unreadable {}; rows accepted {}; slowest input {slowest:.0} ms",
        n as f64 / elapsed,
        p - own,
        unreadable.load(Ordering::Relaxed),
        rows_accepted.load(Ordering::Relaxed),
    );
    let places = places.lock().unwrap().clone();
    for (place, count) in &places {
        println!("  panicked at {place} ({count}×)");
    }
    if args.iter().any(|a| a == "--record") {
        let listed: String = places
            .iter()
            .map(|(place, count)| {
                let short = place.rsplit_once("/src/").map_or(place.clone(), |(crate_dir, rest)| {
                    format!("{}/src/{rest}", crate_dir.rsplit('/').next().unwrap_or(crate_dir))
                });
                format!("- `{short}`: {count}\n")
            })
            .collect();
        common::write_section(
            "## Fuzzing the ingest",
            &format!(
                "## Fuzzing the ingest\n\n`cargo run --example fuzz_ingest -- --inputs {inputs} --seed {seed} --record` \
                 mutates the committed workbooks and CSVs ({} seed files: tests/fixtures, the hostile corpus, the sample \
                 district's day) by bytes and by structure (a package's XML parts changed and zipped again) and ingests \
                 each as `wangge ingest` reads one file, then runs every cell through the normalisers and the masking. \
                 A panic in wangge's code fails the run; one inside a dependency is caught per file (the file is \
                 named unreadable) and listed by place.\n\n\
                 | inputs | time | inputs/s | panics in wangge | caught in dependencies | slower than 1 s | aborts | slowest input |\n\
                 |---|---|---|---|---|---|---|---|\n\
                 | {n} | {elapsed:.0} s | {:.0} | {own} | {} | {s} | 0 | {slowest:.0} ms |\n\n{listed}",
                seeds.len(),
                n as f64 / elapsed,
                p - own,
            ),
        );
    }
    if own > 0 || s > 0 {
        std::process::exit(1);
    }
}
