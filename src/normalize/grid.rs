//! Grids resolved against the registry (网格台账), by code or by name in the context of a
//! community: "13027300100100300", "荣馨园社区第3网格", "荣馨园3网格", "第三网格", "3号网格", "3"
//! (domain.md §2.3). An unknown or ambiguous name is an error that lists the candidates.

use std::collections::BTreeMap;

use super::text;

/// A community (社区/村) of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryCommunity {
    pub code: String,
    pub name: String,
    pub town_code: String,
    pub town_name: String,
}

/// The grid registry: communities and their grids and sub-grids, by code.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    pub communities: BTreeMap<String, RegistryCommunity>,
    /// grid code → (community code, grid number; 0 when the grid has none).
    pub grids: BTreeMap<String, (String, u32)>,
    /// sub-grid code → grid code.
    pub sub_grids: BTreeMap<String, String>,
    /// grid code → its name as the registry writes it, compacted ("幸福里网格").
    pub grid_names: BTreeMap<String, String>,
}

/// One row of a grid registry as read: names, and the codes the registry has, if any.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistryRow<'a> {
    pub town: &'a str,
    pub community: &'a str,
    pub community_code: Option<&'a str>,
    pub grid_name: &'a str,
    pub grid_code: Option<&'a str>,
    pub sub_grid_name: &'a str,
    pub sub_grid_code: Option<&'a str>,
}

/// The codes a registry row is filed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowCodes {
    pub community: String,
    pub grid: String,
    pub sub_grid: Option<String>,
    /// Whether any code was derived from names rather than read.
    pub derived: bool,
}

fn nbs(code: &str, len: usize) -> bool {
    code.len() == len && code.bytes().all(|b| b.is_ascii_digit())
}

/// A stable code from names: the same names give the same code on every run and machine.
fn derived(prefix: &str, names: &[&str], hex: usize) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for n in names {
        hasher.update(text::compact(n).as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let mut out = prefix.to_string();
    for b in digest.iter().take(hex.div_ceil(2)) {
        out.push_str(&format!("{b:02X}"));
    }
    out.truncate(prefix.len() + hex);
    out
}

impl RegistryRow<'_> {
    /// The codes of the row. The national codes of domain.md §2.3 (12-digit community,
    /// 17-digit grid and sub-grid) are kept as they are. A community without one is filed under
    /// its town's code (`T` and 8 characters from the town's name: every community code starts
    /// with its town's 9 characters) followed by its own code, or by characters from its name;
    /// a grid or sub-grid without a national code under its community's (or grid's) code
    /// followed by its own code, or by its number or characters from its name. `None` when the
    /// row names no community or no grid.
    pub fn codes(&self) -> Option<RowCodes> {
        fn given(c: Option<&str>) -> Option<&str> {
            c.map(str::trim).filter(|c| !c.is_empty())
        }
        let (community_name, grid_name) = (text::compact(self.community), text::compact(self.grid_name));
        let mut from_names = false;
        let town = derived("T", &[self.town], 8);
        // A code already filed this way (read back from the warehouse) is kept as it is.
        let community = match (given(self.community_code), given(self.grid_code)) {
            (Some(c), _) if nbs(c, 12) || c.starts_with(&town) => c.to_string(),
            (_, Some(g)) if nbs(g, 17) || nbs(g, 15) => g[..12].to_string(),
            (own, _) => {
                if community_name.is_empty() {
                    return None;
                }
                match own {
                    Some(c) => format!("{town}-{c}"),
                    None => {
                        from_names = true;
                        derived(&format!("{town}C"), &[self.town, self.community], 6)
                    }
                }
            }
        };
        let grid = match given(self.grid_code) {
            Some(g) if g.starts_with(&community) => g.to_string(),
            Some(g) => format!("{community}-{g}"),
            None => {
                if grid_name.is_empty() {
                    return None;
                }
                from_names = true;
                match split_grid_name(&grid_name).filter(|(prefix, _)| prefix.trim_end_matches('第').is_empty()) {
                    Some((_, n)) => format!("{community}G{n:03}"),
                    None => derived(&format!("{community}G"), &[&grid_name], 6),
                }
            }
        };
        let sub_grid = match given(self.sub_grid_code) {
            Some(s) if nbs(s, 17) || s.starts_with(&grid) => Some(s.to_string()),
            Some(s) => Some(format!("{grid}-{s}")),
            // A sub-grid named and not coded (a tree registry's 微网格 rows).
            None if !text::compact(self.sub_grid_name).is_empty() => {
                from_names = true;
                Some(derived(&format!("{grid}S"), &[self.sub_grid_name], 4))
            }
            None => None,
        };
        Some(RowCodes { community, grid, sub_grid, derived: from_names })
    }
}

/// A resolved grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedGrid {
    pub grid_code: String,
    pub sub_grid_code: Option<String>,
    pub community_code: String,
    pub town_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GridError {
    #[error("网格“{text}”在登记台账中不存在{}", hint(.candidates))]
    Unknown { text: String, candidates: Vec<String> },
    #[error("网格“{text}”无法确定属于哪个社区，可能是：{}", .candidates.join("、"))]
    Ambiguous { text: String, candidates: Vec<String> },
}

fn hint(candidates: &[String]) -> String {
    if candidates.is_empty() { String::new() } else { format!("；该社区的网格有：{}", candidates.join("、")) }
}

impl GridError {
    pub fn reason(&self) -> &'static str {
        match self {
            GridError::Unknown { .. } => "unknown_grid",
            GridError::Ambiguous { .. } => "ambiguous_grid",
        }
    }
}

/// Strips 社区/村/居委会 from a community name: how workers abbreviate it ("荣馨园").
pub fn short_community_name(name: &str) -> &str {
    for suffix in ["社区居委会", "村委会", "居委会", "社区", "村"] {
        if let Some(short) = name.strip_suffix(suffix) {
            if !short.is_empty() {
                return short;
            }
        }
    }
    name
}

/// Parses Arabic or Chinese numerals up to 99 ("3", "十二", "二十三", "１２").
pub fn parse_number(s: &str) -> Option<u32> {
    let s = text::fold_width(s);
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let digit = |c: char| "零一二三四五六七八九".chars().position(|d| d == c).map(|p| p as u32);
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        ['两'] => Some(2),
        [d] => digit(*d).or(if *d == '十' { Some(10) } else { None }),
        ['十', d] => Some(10 + digit(*d)?),
        [t, '十'] => Some(10 * digit(*t)?),
        [t, '十', d] => Some(10 * digit(*t)? + digit(*d)?),
        _ => None,
    }
}

impl Registry {
    pub fn is_empty(&self) -> bool {
        self.grids.is_empty()
    }

    /// Adds one registry row (a sub-grid, or a grid) under the codes it is filed under (see
    /// `RegistryRow::codes`); returns them, or `None` for a row naming no community or grid.
    pub fn add_row(&mut self, row: &RegistryRow<'_>) -> Option<RowCodes> {
        let codes = row.codes()?;
        let community = &codes.community;
        self.communities.entry(community.clone()).or_insert_with(|| RegistryCommunity {
            code: community.clone(),
            name: text::compact(row.community),
            town_code: community.get(..9).unwrap_or(community).to_string(),
            town_name: text::compact(row.town),
        });
        let grid_name = text::compact(row.grid_name);
        let number = match codes.grid.get(12..15) {
            Some(n) if nbs(&codes.grid, 17) => n.parse().unwrap_or(0),
            _ => split_grid_name(&grid_name).map_or(0, |(_, n)| n),
        };
        self.grids.insert(codes.grid.clone(), (community.clone(), number));
        if !grid_name.is_empty() {
            self.grid_names.insert(codes.grid.clone(), grid_name);
        }
        if let Some(sub) = &codes.sub_grid {
            self.sub_grids.insert(sub.clone(), codes.grid.clone());
        }
        Some(codes)
    }

    /// Applies a partial registry: each community it lists gets exactly the grids and sub-grids
    /// it gives (a grid it drops is gone); every other community keeps its own.
    pub fn overlay(&mut self, update: Registry) {
        let updated: std::collections::BTreeSet<&String> = update.communities.keys().collect();
        let dropped: std::collections::BTreeSet<String> =
            self.grids.iter().filter(|(_, (c, _))| updated.contains(c)).map(|(g, _)| g.clone()).collect();
        self.grids.retain(|g, _| !dropped.contains(g));
        self.sub_grids.retain(|_, g| !dropped.contains(g));
        self.grid_names.retain(|g, _| !dropped.contains(g));
        self.communities.extend(update.communities);
        self.grids.extend(update.grids);
        self.sub_grids.extend(update.sub_grids);
        self.grid_names.extend(update.grid_names);
    }

    /// Finds the communities a piece of text names: exact name, short name, or a name that
    /// starts with it. Exact matches win over prefix matches.
    pub fn communities_named(&self, text_part: &str) -> Vec<&RegistryCommunity> {
        let t = text::compact(text_part);
        if t.is_empty() {
            return Vec::new();
        }
        let exact: Vec<_> =
            self.communities.values().filter(|c| c.name == t || short_community_name(&c.name) == t).collect();
        if !exact.is_empty() {
            return exact;
        }
        self.communities.values().filter(|c| c.name.starts_with(&t)).collect()
    }

    /// The community whose full name appears in `text` (a title, sheet or file name); the
    /// longest name wins so that "荣馨园北社区" is not read as "荣馨园社区".
    pub fn community_in_text(&self, text_part: &str) -> Option<&RegistryCommunity> {
        let t = text::compact(text_part);
        self.communities.values().filter(|c| t.contains(&c.name)).max_by_key(|c| c.name.chars().count())
    }

    fn grid_in(&self, community: &str, number: u32) -> Option<String> {
        // National codes put the number in the code; other registries are searched.
        let code = format!("{community}{number:03}00");
        if self.grids.contains_key(&code) {
            return Some(code);
        }
        let mut found = self.grids.iter().filter(|(_, (c, n))| c == community && *n == number && number > 0);
        match (found.next(), found.next()) {
            (Some((code, _)), None) => Some(code.clone()),
            _ => None,
        }
    }

    /// The grid of a community whose registry name is `name` (compacted), with or without the
    /// community's name before it.
    fn grid_named(&self, community: &RegistryCommunity, name: &str) -> Option<String> {
        let short = short_community_name(&community.name);
        // The text as written first: a grid may be named after its community (幸福里网格).
        let spellings = [Some(name), name.strip_prefix(community.name.as_str()), name.strip_prefix(short)];
        spellings.into_iter().flatten().filter(|s| !s.is_empty()).find_map(|name| {
            self.grid_names
                .iter()
                .find(|(code, n)| {
                    self.grids.get(*code).is_some_and(|(c, _)| *c == community.code)
                        && (n.as_str() == name || n.strip_suffix("网格") == Some(name))
                })
                .map(|(code, _)| code.clone())
        })
    }

    fn grid_names_of(&self, community: &str) -> Vec<String> {
        self.grids
            .iter()
            .filter(|(_, (c, _))| c == community)
            .map(|(code, (_, n))| self.grid_names.get(code).cloned().unwrap_or_else(|| format!("第{n}网格")))
            .collect()
    }

    fn resolved(&self, grid_code: String, sub_grid_code: Option<String>) -> ResolvedGrid {
        let community_code = self.grids[&grid_code].0.clone();
        let town_code = self.communities.get(&community_code).map(|c| c.town_code.clone()).unwrap_or_default();
        ResolvedGrid { grid_code, sub_grid_code, community_code, town_code }
    }

    /// Resolves a grid cell. `community` is the row's or the file's community (its code), when
    /// known; `town` narrows the search when only the town is known.
    pub fn resolve(&self, raw: &str, community: Option<&str>, town: Option<&str>) -> Result<ResolvedGrid, GridError> {
        let t = text::compact(raw);
        let unknown = |candidates| GridError::Unknown { text: raw.trim().to_string(), candidates };
        if self.grids.contains_key(&t) {
            return Ok(self.resolved(t, None));
        }
        if let Some(grid) = self.sub_grids.get(&t) {
            return Ok(self.resolved(grid.clone(), Some(t)));
        }
        if t.len() == 17 && t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(unknown(Vec::new()));
        }
        // A grid named, not numbered ("幸福里网格"), as the registry names it: tried when the
        // text is no grid number of the community.
        let by_name = || {
            if self.grid_names.is_empty() {
                return None;
            }
            let in_scope: Vec<&RegistryCommunity> = match community {
                Some(code) => self.communities.get(code).into_iter().collect(),
                None => self.communities.values().filter(|c| t.starts_with(short_community_name(&c.name))).collect(),
            };
            match in_scope.iter().filter_map(|c| self.grid_named(c, &t)).collect::<Vec<_>>().as_slice() {
                [one] => Some(self.resolved(one.clone(), None)),
                _ => None,
            }
        };
        let Some((prefix, number)) = split_grid_name(&t) else {
            return by_name().ok_or_else(|| unknown(Vec::new()));
        };
        let prefix = prefix.trim_end_matches('第');
        let candidates: Vec<&RegistryCommunity> = if !prefix.is_empty() {
            let named = self.communities_named(prefix);
            if named.is_empty() {
                return by_name().ok_or_else(|| unknown(Vec::new()));
            }
            named
        } else if let Some(code) = community {
            self.communities.get(code).into_iter().collect()
        } else {
            self.communities
                .values()
                .filter(|c| town.is_none_or(|town| c.town_code == town || c.town_name == town))
                .collect()
        };
        let matches: Vec<String> = candidates.iter().filter_map(|c| self.grid_in(&c.code, number)).collect();
        if matches.is_empty()
            && let Some(found) = by_name()
        {
            return Ok(found);
        }
        match matches.as_slice() {
            [one] => Ok(self.resolved(one.clone(), None)),
            [] if candidates.len() == 1 => Err(unknown(self.grid_names_of(&candidates[0].code))),
            [] => Err(unknown(Vec::new())),
            many => Err(GridError::Ambiguous {
                text: raw.trim().to_string(),
                candidates: many
                    .iter()
                    .map(|code| format!("{}{}", self.community_name(code), self.grid_label(code)))
                    .collect(),
            }),
        }
    }

    fn community_name(&self, grid_code: &str) -> String {
        self.grids.get(grid_code).and_then(|(c, _)| self.communities.get(c)).map(|c| c.name.clone()).unwrap_or_default()
    }

    fn grid_label(&self, code: &str) -> String {
        match (self.grid_names.get(code), self.grids.get(code)) {
            (Some(name), _) => name.clone(),
            (None, Some((_, n))) => format!("第{n}网格"),
            (None, None) => String::new(),
        }
    }
}

/// Splits "荣馨园社区第3网格" into ("荣馨园社区第", 3), "第三网格" into ("第", 3), "3号网格" and
/// "3" into ("", 3).
fn split_grid_name(t: &str) -> Option<(&str, u32)> {
    let body = t.strip_suffix("网格").map(|b| b.strip_suffix('号').unwrap_or(b)).unwrap_or(t);
    // The number is the longest tail of digits or Chinese numerals.
    let is_numeral = |c: char| c.is_ascii_digit() || "零一二三四五六七八九十两".contains(c);
    let start = body.char_indices().rev().take_while(|(_, c)| is_numeral(*c)).last().map(|(i, _)| i)?;
    let number = parse_number(&body[start..])?;
    Some((&body[..start], number))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        let mut r = Registry::default();
        for (code, name, town) in [
            ("130273001001", "荣馨园社区", "130273001"),
            ("130273001002", "世纪花园社区", "130273001"),
            ("130273402201", "东坪村", "130273402"),
        ] {
            r.communities.insert(
                code.into(),
                RegistryCommunity {
                    code: code.into(),
                    name: name.into(),
                    town_code: town.into(),
                    town_name: String::new(),
                },
            );
            for n in 1..=12 {
                r.grids.insert(format!("{code}{n:03}00"), (code.into(), n));
                r.sub_grids.insert(format!("{code}{n:03}01"), format!("{code}{n:03}00"));
            }
        }
        r
    }

    #[test]
    fn names_in_every_spelling() {
        let r = registry();
        let want = "13027300100100300";
        for text in ["荣馨园社区第3网格", "荣馨园3网格", " 荣馨园社区第3网格 ", want] {
            assert_eq!(r.resolve(text, None, None).unwrap().grid_code, want, "{text}");
        }
        for text in ["第三网格", "第3网格", "3号网格", "3", "３"] {
            assert_eq!(r.resolve(text, Some("130273001001"), None).unwrap().grid_code, want, "{text}");
        }
        assert_eq!(r.resolve("第十二网格", Some("130273001001"), None).unwrap().grid_code, "13027300100101200");
        assert_eq!(
            r.resolve("13027300100100301", None, None).unwrap().sub_grid_code.as_deref(),
            Some("13027300100100301")
        );
    }

    #[test]
    fn registries_without_national_codes_get_stable_codes_that_read_back_the_same() {
        let row = RegistryRow {
            town: "幸福镇", community: "幸福里社区", grid_name: "第3网格", ..Default::default()
        };
        let codes = row.codes().unwrap();
        assert!(codes.derived && codes.community.starts_with('T') && codes.grid.ends_with("G003"), "{codes:?}");
        assert_eq!(row.codes(), Some(codes.clone()), "the same names, the same codes");
        // Read back from the warehouse with the codes it was filed under: unchanged.
        let back = RegistryRow { community_code: Some(&codes.community), grid_code: Some(&codes.grid), ..row };
        assert_eq!(back.codes().map(|c| (c.community, c.grid)), Some((codes.community.clone(), codes.grid.clone())));
        // An office's own short codes are kept, under the community's and town's.
        let own = RegistryRow { community_code: Some("007"), grid_code: Some("01"), ..row };
        let c = own.codes().unwrap();
        assert!(c.community.ends_with("-007") && c.grid == format!("{}-01", c.community) && !c.derived, "{c:?}");
        // National codes from the grid code's prefix when the community's column is missing.
        let national = RegistryRow { grid_code: Some("13027300100100300"), ..row };
        assert_eq!(national.codes().unwrap().community, "130273001001");
        assert_eq!(RegistryRow { community: "", ..row }.codes(), None);
        // A sub-grid named, not coded, gets a code under its grid's; read back, the same.
        let sub = RegistryRow { sub_grid_name: "第2微网格", ..row }.codes().unwrap().sub_grid.unwrap();
        assert!(sub.starts_with(&format!("{}S", codes.grid)) && sub.len() == codes.grid.len() + 5, "{sub}");
        let sub_back = RegistryRow { sub_grid_code: Some(&sub), ..back };
        assert_eq!(sub_back.codes().unwrap().sub_grid.as_deref(), Some(sub.as_str()));

        // Grids named, not numbered, resolve by their names in the community.
        let mut r = Registry::default();
        for grid in ["幸福里网格", "第3网格"] {
            r.add_row(&RegistryRow { grid_name: grid, ..row });
        }
        let community = r.communities.keys().next().unwrap().clone();
        let by_name = r.resolve("幸福里网格", Some(&community), None).unwrap();
        assert_eq!(r.grid_names[&by_name.grid_code], "幸福里网格");
        assert!(r.resolve("幸福里社区幸福里网格", None, None).is_ok());
        assert!(r.resolve("第三网格", Some(&community), None).unwrap().grid_code.ends_with("G003"));
        assert_eq!(r.resolve("和平网格", Some(&community), None).unwrap_err().reason(), "unknown_grid");
    }

    #[test]
    fn unknown_and_ambiguous_list_candidates() {
        let r = registry();
        let e = r.resolve("荣馨园社区第40网格", None, None).unwrap_err();
        assert_eq!(e.reason(), "unknown_grid");
        assert!(e.to_string().contains("第12网格"), "{e}");
        let e = r.resolve("第3网格", None, Some("130273001")).unwrap_err();
        assert_eq!(e.reason(), "ambiguous_grid");
        assert!(e.to_string().contains("荣馨园社区第3网格") && e.to_string().contains("世纪花园社区第3网格"), "{e}");
        assert_eq!(r.resolve("第3网格", None, Some("130273402")).unwrap().grid_code, "13027340220100300");
        assert_eq!(r.resolve("幸福里社区第3网格", None, None).unwrap_err().reason(), "unknown_grid");
    }
}
