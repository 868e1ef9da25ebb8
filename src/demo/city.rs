//! A city of several districts for `demo-data --districts N`: the founding article's district
//! first, exactly as it is generated alone, then the other counties and districts of 唐山市 with
//! invented towns, communities and villages whose names are unique in the city (so a community's
//! files and its grids are never confused with another district's).

use std::collections::BTreeSet;

use super::district::Territory;
use super::names::TOWNS;
use super::rng::Rng;

/// The city a multi-district sample reports for (`wangge.toml`'s `[district]`).
pub const CITY_NAME: &str = "唐山市";
pub const CITY_CODE: &str = "130200";

/// 唐山市's counties and districts beside the 高新区 (GB/T 2260): code, name, short name.
pub const COUNTIES: &[(&str, &str, &str)] = &[
    ("130202", "路南区", "路南区"),
    ("130203", "路北区", "路北区"),
    ("130204", "古冶区", "古冶区"),
    ("130205", "开平区", "开平区"),
    ("130207", "丰南区", "丰南区"),
    ("130208", "丰润区", "丰润区"),
    ("130209", "曹妃甸区", "曹妃甸区"),
    ("130224", "滦南县", "滦南县"),
    ("130225", "乐亭县", "乐亭县"),
    ("130227", "迁西县", "迁西县"),
    ("130229", "玉田县", "玉田县"),
    ("130281", "遵化市", "遵化市"),
    ("130283", "迁安市", "迁安市"),
    ("130284", "滦州市", "滦州市"),
];

/// The most districts a sample city has: the article's and the counties above.
pub const MAX_DISTRICTS: u32 = COUNTIES.len() as u32 + 1;

const FIRST: &[&str] = &[
    "东", "西", "南", "北", "新", "兴", "和", "安", "康", "福", "丰", "润", "平", "泰", "华", "光", "明", "建", "振",
    "永", "长", "文", "德", "胜", "利", "清", "金", "银", "青", "红", "龙", "凤", "阳", "春", "秀", "锦", "祥", "瑞",
];
const SECOND: &[&str] = &[
    "苑", "园", "城", "湖", "桥", "里", "坊", "街", "景", "府", "源", "盛", "泉", "岭", "湾", "林", "台", "河", "山",
    "海",
];
const VILLAGE_ENDS: &[&str] = &["庄", "各庄", "屯", "营", "坨", "店", "寨", "官庄", "家口", "堡"];
const VILLAGE_STARTS: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "胡", "朱", "郭", "何", "高", "林",
    "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "田", "董", "袁", "于", "前", "后", "大",
    "小", "上", "下",
];

/// The territories of a city of `n` districts (1 to `MAX_DISTRICTS`): the article's first.
pub fn territories(root: &Rng, n: u32) -> Vec<Territory> {
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for (_, town, communities, villages) in TOWNS {
        taken.insert(town.to_string());
        taken.extend(communities.iter().chain(villages.iter()).map(|s| s.to_string()));
    }
    let mut out = vec![Territory::article()];
    for &(code, name, short) in COUNTIES.iter().take(n.saturating_sub(1) as usize) {
        let mut r = root.fork(&format!("territory/{code}"));
        let town_count = r.range(3, 6) as usize;
        let mut towns = Vec::new();
        for t in 0..town_count {
            // Sub-district offices (街道, NBS 001–099) first, then towns (镇, 100–199).
            let street = t < town_count / 2;
            let town_code = if street { format!("{code}{:03}", t + 1) } else { format!("{code}{:03}", 100 + t) };
            let town_name = unique(&mut r, &mut taken, |r| {
                format!("{}{}{}", r.pick(FIRST), r.pick(SECOND), if street { "街道" } else { "镇" })
            });
            let (n_communities, n_villages) =
                if street { (r.range(6, 12) as usize, 0) } else { (r.range(0, 3) as usize, r.range(6, 12) as usize) };
            let communities: Vec<String> = (0..n_communities)
                .map(|_| unique(&mut r, &mut taken, |r| format!("{}{}社区", r.pick(FIRST), r.pick(SECOND))))
                .collect();
            let villages: Vec<String> = (0..n_villages)
                .map(|_| {
                    unique(&mut r, &mut taken, |r| format!("{}{}村", r.pick(VILLAGE_STARTS), r.pick(VILLAGE_ENDS)))
                })
                .collect();
            towns.push((town_code, town_name, communities, villages));
        }
        let grids = r.range(500, 900) as u64;
        out.push(Territory {
            code: code.into(),
            name: format!("{CITY_NAME}{name}"),
            short_name: short.into(),
            // The county's own digits of its code: 130202 → RX02.
            order_prefix: format!("RX{}", code.get(4..).unwrap_or(code)),
            towns,
            grids,
            sub_grids: 2 * grids + r.range(0, 9) as u64,
            workers: 3 * grids + grids * r.range(20, 40) as u64 / 100,
        });
    }
    out
}

/// A name `make` draws that no other unit of the city has; after many draws, a number is added.
fn unique(r: &mut Rng, taken: &mut BTreeSet<String>, make: impl Fn(&mut Rng) -> String) -> String {
    for attempt in 0u32.. {
        let mut name = make(r);
        if attempt >= 50 {
            // Keep the suffix (社区, 村, 镇, 街道) last: it is what tells the kind of unit.
            let cut = name.char_indices().nth(2).map_or(name.len(), |(i, _)| i);
            name.insert_str(cut, &attempt.to_string());
        }
        if taken.insert(name.clone()) {
            return name;
        }
    }
    unreachable!("an unbounded range always yields")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_city_has_unique_names_and_codes_and_keeps_the_article_first() {
        let all = territories(&Rng::new(7), MAX_DISTRICTS);
        assert_eq!(all.len(), 15);
        assert_eq!(all[0].code, "130273");
        let mut names = BTreeSet::new();
        let mut codes = BTreeSet::new();
        for t in &all {
            assert!(codes.insert(t.code.clone()), "district code {} twice", t.code);
            for (code, town, communities, villages) in &t.towns {
                assert!(code.starts_with(&t.code) && code.len() == 9);
                assert!(names.insert(town.clone()), "{town} twice");
                for c in communities.iter().chain(villages) {
                    assert!(names.insert(c.clone()), "{c} twice");
                    assert!(c.ends_with("社区") || c.ends_with('村'));
                }
            }
        }
        // The same seed gives the same city.
        let again = territories(&Rng::new(7), 3);
        assert_eq!(again[2].towns, all[2].towns);
    }
}
