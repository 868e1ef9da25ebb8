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
    /// grid code → (community code, grid number).
    pub grids: BTreeMap<String, (String, u32)>,
    /// sub-grid code → grid code.
    pub sub_grids: BTreeMap<String, String>,
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

    /// Adds one registry row: a sub-grid (or a grid, without `sub_grid`) of a community. Rows whose
    /// codes are not the 12-digit community and 17-digit grid codes of domain.md §2.3 are left out.
    pub fn add_row(&mut self, town: &str, community: &str, community_code: &str, grid: &str, sub_grid: Option<&str>) {
        let ascii_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if community_code.len() != 12 || grid.len() != 17 || !ascii_digits(community_code) || !ascii_digits(grid) {
            return;
        }
        self.communities.entry(community_code.to_string()).or_insert_with(|| RegistryCommunity {
            code: community_code.to_string(),
            name: community.to_string(),
            town_code: community_code[..9].to_string(),
            town_name: town.to_string(),
        });
        let number = grid[12..15].parse().unwrap_or(0);
        self.grids.insert(grid.to_string(), (community_code.to_string(), number));
        if let Some(sub) = sub_grid.filter(|s| !s.is_empty()) {
            self.sub_grids.insert(sub.to_string(), grid.to_string());
        }
    }

    /// The towns (9-digit codes) the registry covers.
    pub fn towns(&self) -> std::collections::BTreeSet<&str> {
        self.communities.values().map(|c| c.town_code.as_str()).collect()
    }

    /// Applies a partial registry: each community it lists gets exactly the grids and sub-grids
    /// it gives (a grid it drops is gone); every other community keeps its own.
    pub fn overlay(&mut self, update: Registry) {
        let updated: std::collections::BTreeSet<&String> = update.communities.keys().collect();
        let dropped: std::collections::BTreeSet<String> =
            self.grids.iter().filter(|(_, (c, _))| updated.contains(c)).map(|(g, _)| g.clone()).collect();
        self.grids.retain(|g, _| !dropped.contains(g));
        self.sub_grids.retain(|_, g| !dropped.contains(g));
        self.communities.extend(update.communities);
        self.grids.extend(update.grids);
        self.sub_grids.extend(update.sub_grids);
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
        let code = format!("{community}{number:03}00");
        self.grids.contains_key(&code).then_some(code)
    }

    fn grid_names_of(&self, community: &str) -> Vec<String> {
        self.grids.iter().filter(|(_, (c, _))| c == community).map(|(_, (_, n))| format!("第{n}网格")).collect()
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
        if t.len() == 17 && t.bytes().all(|b| b.is_ascii_digit()) {
            if self.grids.contains_key(&t) {
                return Ok(self.resolved(t, None));
            }
            if let Some(grid) = self.sub_grids.get(&t) {
                return Ok(self.resolved(grid.clone(), Some(t)));
            }
            return Err(unknown(Vec::new()));
        }
        let Some((prefix, number)) = split_grid_name(&t) else { return Err(unknown(Vec::new())) };
        let prefix = prefix.trim_end_matches('第');
        let candidates: Vec<&RegistryCommunity> = if !prefix.is_empty() {
            let named = self.communities_named(prefix);
            if named.is_empty() {
                return Err(unknown(Vec::new()));
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
        match matches.as_slice() {
            [one] => Ok(self.resolved(one.clone(), None)),
            [] if candidates.len() == 1 => Err(unknown(self.grid_names_of(&candidates[0].code))),
            [] => Err(unknown(Vec::new())),
            many => Err(GridError::Ambiguous {
                text: raw.trim().to_string(),
                candidates: many
                    .iter()
                    .map(|code| format!("{}{}", self.community_name(code), grid_label(code)))
                    .collect(),
            }),
        }
    }

    fn community_name(&self, grid_code: &str) -> String {
        self.grids.get(grid_code).and_then(|(c, _)| self.communities.get(c)).map(|c| c.name.clone()).unwrap_or_default()
    }
}

fn grid_label(code: &str) -> String {
    format!("第{}网格", code.get(12..15).unwrap_or_default().trim_start_matches('0'))
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
