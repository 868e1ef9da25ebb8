//! The territory of the sample district: towns, communities and villages, grids, sub-grids
//! and grid workers, with the exact totals of the founding article (784 grids, 1,571 sub-grids,
//! 2,386 workers) and households consistent with domain.md §4.3.

use chrono::NaiveDate;

use super::names::{self, TOWNS};
use super::people::{Person, PersonFactory};
use super::rng::{Rng, apportion};

pub const GRIDS: u64 = 784;
pub const SUB_GRIDS: u64 = 1571;
pub const WORKERS: u64 = 2386;
/// The statistical code of the founding article's district (唐山高新区).
pub const ARTICLE_CODE: &str = "130273";

/// A district's units before grids are spread over them: its towns, each with its communities
/// (社区) and villages (村), and how many grids, sub-grids and workers it has in all.
#[derive(Debug, Clone)]
pub struct Territory {
    /// 6-digit statistical code of the district (county level).
    pub code: String,
    pub name: String,
    /// As the district's own files name it (高新区, 路南区).
    pub short_name: String,
    /// Prefix of the work-order numbers of the district's hotline export.
    pub order_prefix: String,
    /// Town code (9 digits), name, communities, villages.
    pub towns: Vec<(String, String, Vec<String>, Vec<String>)>,
    pub grids: u64,
    pub sub_grids: u64,
    pub workers: u64,
}

impl Territory {
    /// The district of the founding article, with its exact totals.
    pub fn article() -> Territory {
        let list = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        Territory {
            code: ARTICLE_CODE.into(),
            name: "唐山高新技术产业开发区".into(),
            short_name: "高新区".into(),
            order_prefix: "RX".into(),
            towns: TOWNS
                .iter()
                .map(|(code, name, communities, villages)| {
                    (code.to_string(), name.to_string(), list(communities), list(villages))
                })
                .collect(),
            grids: GRIDS,
            sub_grids: SUB_GRIDS,
            workers: WORKERS,
        }
    }
}

#[derive(Debug, Clone)]
pub struct District {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub order_prefix: String,
    pub towns: Vec<Town>,
}

#[derive(Debug, Clone)]
pub struct Town {
    pub name: String,
    pub communities: Vec<Community>,
}

#[derive(Debug, Clone)]
pub struct Community {
    /// 12-digit NBS-style code: town code + 3 digits (001–199 社区, 201–399 村).
    pub code: String,
    pub name: String,
    pub town_name: String,
    pub urban: bool,
    pub grids: Vec<Grid>,
}

#[derive(Debug, Clone)]
pub struct Grid {
    /// 17 digits: community code + 3-digit grid number + `00` (the project's convention,
    /// domain.md §2.3).
    pub code: String,
    pub number: u32,
    pub sub_grids: Vec<SubGrid>,
    pub workers: Vec<Worker>,
    pub residents: u64,
}

#[derive(Debug, Clone)]
pub struct SubGrid {
    /// Grid code with the last two digits set to the sub-grid number.
    pub code: String,
    pub number: u32,
    pub households: u64,
    /// Buildings or villager groups this sub-grid covers, as the roster writes it.
    pub scope: String,
}

#[derive(Debug, Clone)]
pub struct Worker {
    pub person: Person,
    pub role: &'static str,
    pub sub_grid: Option<u32>,
    pub party: &'static str,
    pub education: &'static str,
}

impl Community {
    /// The community's short name without 社区/村, as workers abbreviate it ("荣馨园").
    pub fn short_name(&self) -> &str {
        self.name.trim_end_matches("社区").trim_end_matches('村')
    }

    pub fn grid_name(&self, grid: &Grid) -> String {
        format!("{}第{}网格", self.name, grid.number)
    }
}

impl Grid {
    pub fn households(&self) -> u64 {
        self.sub_grids.iter().map(|s| s.households).sum()
    }
}

impl District {
    pub fn communities(&self) -> impl Iterator<Item = &Community> {
        self.towns.iter().flat_map(|t| t.communities.iter())
    }

    pub fn grids(&self) -> impl Iterator<Item = (&Community, &Grid)> {
        self.communities().flat_map(|c| c.grids.iter().map(move |g| (c, g)))
    }
}

/// Builds the district. Grid, sub-grid and worker totals are exact; how they spread over
/// communities follows each community's (random) size. Needs at least 20 grids, about two
/// sub-grids and three to four workers per grid (`Territory::article` and `city` keep to that).
pub fn build(rng: &Rng, people: &mut PersonFactory, today: NaiveDate, territory: &Territory) -> District {
    let (grids_total, sub_grids_total, workers_total) = (territory.grids, territory.sub_grids, territory.workers);
    let mut r = rng.fork("district");
    let mut shells: Vec<(usize, String, &str, bool)> = Vec::new();
    for (t, (town_code, _, communities, villages)) in territory.towns.iter().enumerate() {
        for (i, name) in communities.iter().enumerate() {
            shells.push((t, format!("{town_code}{:03}", i + 1), name, true));
        }
        for (i, name) in villages.iter().enumerate() {
            shells.push((t, format!("{town_code}{:03}", 201 + i), name, false));
        }
    }
    // Urban communities are bigger than villages.
    let weights: Vec<u64> =
        shells.iter().map(|s| if s.3 { r.range(24, 40) as u64 } else { r.range(8, 16) as u64 }).collect();
    let grids_per_community = apportion(grids_total, &weights);

    // Sub-grids: two per grid, then some grids get one or three so that the total is exact.
    let mut sub_counts = vec![2u64; grids_total as usize];
    let extra = sub_grids_total.saturating_sub(2 * grids_total); // 3 at the article's figures
    let singles = 20;
    let mut order: Vec<usize> = (0..grids_total as usize).collect();
    shuffle(&mut r, &mut order);
    for &i in order.iter().take(singles) {
        sub_counts[i] = 1;
    }
    for &i in order.iter().skip(singles).take(singles + extra as usize) {
        sub_counts[i] = 3;
    }
    // Workers: a 网格长 and two others per grid, a fourth (网格指导员 or 楼栋长) where needed.
    let mut worker_counts = vec![3u64; grids_total as usize];
    let fours = workers_total.saturating_sub(3 * grids_total);
    shuffle(&mut r, &mut order);
    for &i in order.iter().take(fours as usize) {
        worker_counts[i] = 4;
    }

    let mut towns: Vec<Town> =
        territory.towns.iter().map(|(_, name, _, _)| Town { name: name.clone(), communities: Vec::new() }).collect();
    let mut grid_index = 0usize;
    for ((town_idx, code, name, urban), n_grids) in shells.into_iter().zip(grids_per_community) {
        let town = &territory.towns[town_idx];
        let mut grids = Vec::new();
        for number in 1..=n_grids as u32 {
            let grid_code = format!("{code}{number:03}00");
            let mut sub_grids = Vec::new();
            for s in 1..=sub_counts[grid_index] as u32 {
                // 30–50 households per sub-grid in communities, 40–60 in villages (§4.3).
                let households = if urban { r.range(30, 50) } else { r.range(40, 60) } as u64;
                let scope = if urban {
                    let first = (number - 1) * 6 + (s - 1) * 3 + 1;
                    format!("{}-{}号楼", first, first + 2)
                } else {
                    format!("第{}村民小组", (number - 1) * 3 + s)
                };
                sub_grids.push(SubGrid { code: format!("{code}{number:03}{s:02}"), number: s, households, scope });
            }
            let households: u64 = sub_grids.iter().map(|s| s.households).sum();
            let residents = households * r.range(230, 280) as u64 / 100;
            let mut workers = Vec::new();
            for w in 0..worker_counts[grid_index] {
                let role = match w {
                    0 => "网格长",
                    1 => "专职网格员",
                    2 => {
                        if urban {
                            "兼职网格员"
                        } else {
                            "专职网格员"
                        }
                    }
                    _ => {
                        if r.chance(500) {
                            "网格指导员"
                        } else {
                            "楼栋长"
                        }
                    }
                };
                let sub_grid =
                    if w == 0 || w == 3 { None } else { Some(((w as u32 - 1) % sub_grids.len() as u32) + 1) };
                workers.push(Worker {
                    person: people.person(&mut r, today, 23, 58),
                    role,
                    sub_grid,
                    party: *r.pick(names::PARTY),
                    education: *r.pick(names::EDUCATION),
                });
            }
            grids.push(Grid { code: grid_code, number, sub_grids, workers, residents });
            grid_index += 1;
        }
        towns[town_idx].communities.push(Community {
            code,
            name: name.to_string(),
            town_name: town.1.clone(),
            urban,
            grids,
        });
    }
    District {
        code: territory.code.clone(),
        name: territory.name.clone(),
        short_name: territory.short_name.clone(),
        order_prefix: territory.order_prefix.clone(),
        towns,
    }
}

pub fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}
