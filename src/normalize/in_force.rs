//! How 网格台账 snapshots replace one another: the rule of the registry in force, which the
//! ingest (reading each day's sheets against it) and the warehouse (reading it back) share;
//! `stg_registry.sql` and the generated completeness step are the same rule in SQL.
//!
//! A registry is kept in parts: a county's grids (区县: the first six digits of a grid's
//! national code, `crate::county`), and the grids whose codes are no county's (derived from
//! names, or an office's own) together. A snapshot that covers every town the registry had in
//! the parts it lists replaces those parts whole: a district of a city sending its registry
//! replaces its own grids, and no other district's, on whichever day it sends it. One that does
//! not cover them (a community sending its own grid plan) replaces only the communities it lists
//! (`Registry::overlay`). Because a part is a county, a city's registry in force can be worked
//! out one county at a time (`split = "county"`) and gives the same rows as the whole city.

use std::collections::{BTreeMap, BTreeSet};

use super::grid::Registry;

/// The part of the registry a grid belongs to: its county's six digits, or `""` for a grid
/// whose code is no county's.
pub fn part(grid_code: &str) -> &str {
    match grid_code.get(..crate::county::COUNTY_DIGITS) {
        Some(county) if crate::county::is_county(county) => county,
        _ => "",
    }
}

/// A registry's towns by part (`Registry::towns_by_part`).
pub type Towns<'a> = BTreeMap<&'a str, BTreeSet<&'a str>>;

/// How many towns a registry had (`previous`) in `parts` that a day's snapshot (`has`) does not
/// cover: none when the snapshot can replace those parts whole.
pub fn towns_missing(has: &Towns<'_>, previous: &Towns<'_>, parts: &BTreeSet<&str>) -> usize {
    previous
        .iter()
        .filter(|(p, _)| parts.contains(*p))
        .map(|(p, towns)| towns.iter().filter(|t| !has.get(p).is_some_and(|h| h.contains(*t))).count())
        .sum()
}

impl Registry {
    /// The parts (see `part`) its grids lie in.
    pub fn parts(&self) -> BTreeSet<&str> {
        self.grids.keys().map(|g| part(g)).collect()
    }

    /// The towns (9-character codes) of each part.
    pub fn towns_by_part(&self) -> Towns<'_> {
        let mut towns: Towns<'_> = BTreeMap::new();
        for (grid, (community, _)) in &self.grids {
            let town =
                self.communities.get(community).map_or(community.get(..9).unwrap_or(community), |c| &c.town_code);
            towns.entry(part(grid)).or_default().insert(town);
        }
        towns
    }

    /// Applies a snapshot that covered its parts: every part it lists gets exactly its grids
    /// (a community it drops is gone); every other part keeps its own.
    pub fn replace_parts(&mut self, snapshot: Registry) {
        let parts: BTreeSet<String> = snapshot.parts().into_iter().map(str::to_string).collect();
        self.grids.retain(|g, _| !parts.contains(part(g)));
        self.sub_grids.retain(|_, g| !parts.contains(part(g)));
        self.grid_names.retain(|g, _| !parts.contains(part(g)));
        let kept: BTreeSet<&String> = self.grids.values().map(|(c, _)| c).collect();
        self.communities.retain(|c, _| kept.contains(c));
        self.merge(snapshot);
    }

    /// Adds another registry's communities, grids and sub-grids, as if its rows had been added
    /// after this one's (a community already here keeps its names).
    pub fn merge(&mut self, other: Registry) {
        for (code, community) in other.communities {
            self.communities.entry(code).or_insert(community);
        }
        self.grids.extend(other.grids);
        self.sub_grids.extend(other.sub_grids);
        self.grid_names.extend(other.grid_names);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::grid::RegistryRow;

    fn registry(rows: &[(&str, &str, &str)]) -> Registry {
        let mut r = Registry::default();
        for (town, community, grid) in rows {
            r.add_row(&RegistryRow {
                town,
                community,
                grid_name: grid,
                grid_code: (grid.len() == 17).then_some(*grid),
                ..Default::default()
            });
        }
        r
    }

    #[test]
    fn a_county_s_snapshot_replaces_that_county_alone_and_a_partial_one_is_told() {
        // Two counties of a city, and a district whose registry has no codes (one part).
        let mut city = registry(&[
            ("甲镇", "一村", "13020200100100100"),
            ("甲镇", "二村", "13020200100200100"),
            ("乙镇", "三村", "13020300100100100"),
            ("丙镇", "四村", "第1网格"),
        ]);
        assert_eq!(city.parts(), BTreeSet::from(["", "130202", "130203"]));

        // 130202 sends its registry again without 二村: it covers its county's town.
        let next = registry(&[("甲镇", "一村", "13020200100100100"), ("甲镇", "一村", "13020200100100200")]);
        assert_eq!(towns_missing(&next.towns_by_part(), &city.towns_by_part(), &next.parts()), 0);
        city.replace_parts(next);
        let grids: Vec<&str> = city.grids.keys().map(String::as_str).collect();
        assert_eq!(grids.len(), 4, "{grids:?}");
        assert!(!city.communities.contains_key("130202001002"), "二村 is gone with its county's snapshot");
        assert!(city.grids.contains_key("13020300100100100"), "the other county keeps its grids");
        assert_eq!(city.parts(), BTreeSet::from(["", "130202", "130203"]));

        // A snapshot of one town of a county of two towns does not cover it.
        let mut two = registry(&[("甲镇", "一村", "13020400100100100"), ("乙镇", "二村", "13020400200100100")]);
        let one = registry(&[("甲镇", "一村", "13020400100100100")]);
        assert_eq!(towns_missing(&one.towns_by_part(), &two.towns_by_part(), &one.parts()), 1);
        two.merge(one);
        assert_eq!(two.grids.len(), 2);
        assert_eq!(part("未知编码123456"), "");
        assert_eq!(part("1302"), "");
    }
}
