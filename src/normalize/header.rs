//! Header text as it is compared with a form's synonyms (domain.md §1.1): full-width folded,
//! all whitespace (including line breaks inside a cell) removed, and, as a second chance,
//! a trailing bracketed annotation dropped ("性别(男/女)" → "性别", "身份证件号码（18位）" →
//! "身份证件号码"). The annotation is only dropped for the second comparison, because some real
//! headers are themselves bracketed ("镇(办事处)").

use super::text;

/// The comparable form of a header cell.
pub fn normalize(header: &str) -> String {
    text::compact(header)
}

/// `normalize`d text without a trailing `(...)` annotation, if it has one.
pub fn strip_annotation(normalized: &str) -> Option<&str> {
    let open = normalized.rfind('(')?;
    (normalized.ends_with(')') && open > 0).then(|| &normalized[..open])
}

/// Whether a header cell names the field with this synonym.
pub fn matches(header: &str, synonym: &str) -> bool {
    let h = normalize(header);
    let s = normalize(synonym);
    h == s || strip_annotation(&h) == Some(s.as_str())
}

/// The words offices combine in a header, for a field whose wordings no list can hold: groups
/// of alternative words, in order, the last one ending the header (after any bracketed
/// annotation is dropped). `到达|抵达|返回|返 + 时间|日期|时` matches 到达时间, 抵唐日期,
/// 返乡时间 and 返唐时间(年月日), and not 来唐时长. A leading `^` makes the first group start
/// the header too.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Pattern {
    anchored: bool,
    groups: Vec<Vec<String>>,
}

impl std::str::FromStr for Pattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Pattern, String> {
        let t = text.trim();
        let (anchored, body) = match t.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let groups: Vec<Vec<String>> = body
            .split('+')
            .map(|g| g.split('|').map(|w| normalize(w)).filter(|w| !w.is_empty()).collect::<Vec<_>>())
            .collect();
        if groups.is_empty() || groups.iter().any(Vec::is_empty) {
            return Err(format!(
                "`{text}` is not a header pattern: write groups of words separated by `+`, the words of a group by `|` (`到达|返回 + 时间|日期`)"
            ));
        }
        Ok(Pattern { anchored, groups })
    }
}

impl TryFrom<String> for Pattern {
    type Error = String;

    fn try_from(text: String) -> Result<Pattern, String> {
        text.parse()
    }
}

impl Pattern {
    /// The characters a header this pattern matches can end with.
    pub fn last_chars(&self) -> impl Iterator<Item = char> + '_ {
        self.groups.last().into_iter().flatten().filter_map(|w| w.chars().last())
    }

    /// How many characters of the normalised header the pattern's words cover, when it
    /// matches: the more of a header its words explain, the surer the match.
    /// `stripped` is the header without its annotation, worked out once for every pattern.
    pub fn coverage_of(&self, normalized: &str, stripped: Option<&str>) -> Option<usize> {
        self.cover(normalized).max(stripped.and_then(|s| self.cover(s)))
    }

    fn cover(&self, text: &str) -> Option<usize> {
        // Most cells end in none of the last group's words: say so before searching (profiled:
        // the search was a third of ingesting the sample district).
        let last = self.groups.last()?;
        if !last.iter().any(|w| text.ends_with(w.as_str())) {
            return None;
        }
        fn go(groups: &[Vec<String>], text: &str, from: usize, anchored: bool) -> Option<usize> {
            let (group, rest) = groups.split_first()?;
            let mut best = None;
            for word in group {
                if rest.is_empty() {
                    // The last group ends the header.
                    if text.len() >= from + word.len()
                        && text.ends_with(word.as_str())
                        && (!anchored || text.len() == from + word.len())
                    {
                        best = best.max(Some(word.chars().count()));
                    }
                    continue;
                }
                let mut at = from;
                while let Some(found) = text.get(at..).and_then(|t| t.find(word.as_str())) {
                    let start = at + found;
                    if anchored && start != from {
                        break;
                    }
                    let end = start + word.len();
                    if let Some(more) = go(rest, text, end, false) {
                        best = best.max(Some(word.chars().count() + more));
                    }
                    // The next occurrence, one character on.
                    at = start + text[start..].chars().next().map_or(1, char::len_utf8);
                }
            }
            best
        }
        go(&self.groups, text, 0, self.anchored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Pattern {
        fn coverage(&self, normalized: &str) -> Option<usize> {
            self.coverage_of(normalized, strip_annotation(normalized))
        }
    }

    #[test]
    fn annotations_width_and_spaces() {
        assert!(matches("性别(男/女)", "性别"));
        assert!(matches("身份证件号码（18位）", "身份证件号码"));
        assert!(matches(" 联系\n电话 ", "联系电话"));
        assert!(matches("镇（办事处）", "镇(办事处)"));
        assert!(!matches("镇(办事处)", "办事处"));
    }

    #[test]
    fn patterns_of_words_in_order_the_last_ending_the_header() {
        let arrival: Pattern = "到达|抵达|返回|返|抵|来 + 时间|日期|时".parse().unwrap();
        for header in ["到达时间", "抵唐日期", "返乡时间", "返唐时间(年月日)", "来唐时间", "抵 达 日 期"]
        {
            assert!(arrival.coverage(&normalize(header)).is_some(), "{header}");
        }
        for header in ["来唐时长", "出发时间", "时间", "返程方式"] {
            assert_eq!(arrival.coverage(&normalize(header)), None, "{header}");
        }
        // The longer words win: 抵达 and 日期 cover four characters of 抵达日期.
        assert_eq!(arrival.coverage("抵达日期"), Some(4));
        let name: Pattern = "^姓名|名字".parse().unwrap();
        assert!(name.coverage("姓名").is_some() && name.coverage("人员姓名").is_none());
        assert!("到达 + ".parse::<Pattern>().is_err());
        assert!("".parse::<Pattern>().is_err());
    }
}
