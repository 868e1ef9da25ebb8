//! `wangge demo-data`: deterministic, equal to the committed `sample-data/`, and true to the
//! founding article's figures.

use calamine::{Data, Reader, open_workbook_auto};

use crate::common::{generated_sample, repo, scratch, tree, truth, wangge_expect};

#[test]
fn same_arguments_give_byte_identical_files_and_another_seed_differs() {
    let dir = scratch();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let c = dir.path().join("c");
    for (path, seed) in [(&a, "7"), (&b, "7"), (&c, "8")] {
        wangge_expect(&["demo-data", path.to_str().unwrap(), "--days", "1", "--seed", seed], 0);
    }
    let files = tree(&a);
    assert_eq!(files, tree(&b));
    assert!(files.len() > 40, "expected rosters, 40 community workbooks and a CSV, got {files:?}");
    for f in &files {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{} differs between two runs",
            f.display()
        );
    }
    let differing = files.iter().filter(|f| std::fs::read(a.join(f)).ok() != std::fs::read(c.join(f)).ok()).count();
    assert!(differing > 10, "a different seed should change the data, only {differing} files differ");
}

#[test]
fn committed_sample_data_equals_what_the_command_generates() {
    let committed = repo().join("sample-data");
    let generated = generated_sample();
    let want = tree(generated);
    assert_eq!(
        tree(&committed),
        want,
        "file lists differ: regenerate with `wangge demo-data sample-data` (see README)"
    );
    for f in &want {
        assert!(
            std::fs::read(committed.join(f)).unwrap() == std::fs::read(generated.join(f)).unwrap(),
            "`sample-data/{}` differs from what `wangge demo-data` generates",
            f.display()
        );
    }
    let bytes: u64 = want.iter().map(|f| std::fs::metadata(committed.join(f)).unwrap().len()).sum();
    assert!(bytes < 20 * 1024 * 1024, "sample-data is {bytes} bytes, over the 20 MB budget");
}

#[test]
fn district_has_the_articles_totals_in_truth_and_in_the_rosters() {
    let sample = generated_sample();
    let t = truth(sample);
    let d = &t["district"];
    assert_eq!(
        (d["towns"].as_u64(), d["grids"].as_u64(), d["sub_grids"].as_u64(), d["workers"].as_u64()),
        (Some(4), Some(784), Some(1571), Some(2386))
    );
    let communities = d["communities"].as_u64().unwrap();
    assert!((35..=45).contains(&communities), "about 40 communities, got {communities}");
    // Households: 30–50 per sub-grid (domain.md §4.3), so about 67,000 for 170,000 residents.
    let households = d["households"].as_u64().unwrap();
    assert!((55_000..80_000).contains(&households), "households {households}");

    // Recount from the roster workbooks themselves.
    let rosters = sample.join("inbox/台账");
    let mut grid_codes = std::collections::BTreeSet::new();
    let mut sub_grid_codes = std::collections::BTreeSet::new();
    let mut towns = std::collections::BTreeSet::new();
    let mut workers = 0;
    let mut names = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&rosters).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut wb = open_workbook_auto(entry.path()).unwrap();
        for sheet in wb.sheet_names() {
            let range = wb.worksheet_range(&sheet).unwrap();
            for row in range.rows() {
                let cells: Vec<String> = row.iter().map(|c| c.to_string()).collect();
                if name.contains("网格台账")
                    && cells.len() > 7
                    && cells[7].len() == 17
                    && cells[7].bytes().all(|b| b.is_ascii_digit())
                {
                    towns.insert(cells[1].clone());
                    names.insert(cells[3].clone());
                    grid_codes.insert(cells[5].clone());
                    sub_grid_codes.insert(cells[7].clone());
                }
                if name.contains("花名册") && matches!(row.first(), Some(Data::Float(_) | Data::Int(_))) {
                    workers += 1;
                }
            }
        }
    }
    assert_eq!(towns.len(), 4);
    assert_eq!(grid_codes.len(), 784);
    assert_eq!(sub_grid_codes.len(), 1571);
    assert_eq!(workers, 2386);
    assert_eq!(names.len() as u64, communities);
    assert!(grid_codes.iter().all(|c| c.starts_with("130273")), "grid codes live under the zone's code");
}

#[test]
fn sample_has_the_article_communities_and_the_planned_submission_gaps() {
    let sample = generated_sample();
    let t = truth(sample);
    let paths: Vec<&str> = t["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    for community in ["荣馨园社区", "世纪花园社区", "新景楼社区"] {
        assert!(paths.iter().any(|p| p.contains(community)), "{community} missing");
    }
    let subs = t["submissions"].as_object().unwrap();
    assert_eq!(subs.len(), 3);
    let missing: usize = subs.values().map(|s| s["missing"].as_array().unwrap().len()).sum();
    let zero: usize = subs.values().map(|s| s["zero_report"].as_array().unwrap().len()).sum();
    assert_eq!((missing, zero), (1, 2));
    // The community that missed a day really has no file that day, and has one the other days.
    for (day, s) in subs {
        for code in s["missing"].as_array().unwrap() {
            let sent = t["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["report_date"] == day.as_str() && f["community_code"] == *code);
            assert!(!sent, "{code} marked missing on {day} but has a file");
        }
    }
    // The GBK work-order exports decode as GBK and not as UTF-8.
    let csv: Vec<_> = paths.iter().filter(|p| p.ends_with(".csv")).collect();
    assert_eq!(csv.len(), 3);
    for p in csv {
        let bytes = std::fs::read(sample.join("inbox").join(p)).unwrap();
        assert!(std::str::from_utf8(&bytes).is_err(), "{p} should not be UTF-8");
        let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
        assert!(!bad && text.starts_with("工单编号,来源渠道,受理时间"), "{p}");
    }
}
