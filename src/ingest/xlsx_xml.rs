//! Byte-level reading of spreadsheet XML for `xlsx_scan`: tags and their attributes, element
//! text with its entities, inline and shared strings (by calamine's `read_string_with_bufs`
//! rules), numbers and cell references as Excel writes them. Everything here answers `None`
//! (or `Halt::Unsupported`) for what it does not expect, so that calamine reads it instead.

use std::io::Read;

use memchr::{memchr, memmem};

/// Bytes inflated at a time.
const READ_BYTES: usize = 1 << 20;

/// Why a row was not parsed.
#[derive(Debug)]
pub(super) enum Halt {
    /// It goes on past what has been inflated so far.
    More,
    /// It holds something this reader leaves to calamine.
    Unsupported,
}

pub(super) type Parse<T> = Result<T, Halt>;

/// A position in inflated XML; running off its end is `Halt::More`.
pub(super) struct Cursor<'a> {
    pub(super) b: &'a [u8],
    pub(super) i: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn skip_whitespace(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    /// The tag at the cursor (`<…>`, quotes respected), moving past it.
    pub(super) fn tag(&mut self) -> Parse<Tag<'a>> {
        if *self.b.get(self.i).ok_or(Halt::More)? != b'<' {
            return Err(Halt::Unsupported);
        }
        let start = self.i + 1;
        let mut quote = None;
        let mut i = start;
        loop {
            let c = *self.b.get(i).ok_or(Halt::More)?;
            i += 1;
            match quote {
                None if c == b'>' => break,
                None if c == b'"' || c == b'\'' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ => {}
            }
        }
        self.i = i;
        Tag::parse(&self.b[start..i - 1]).ok_or(Halt::Unsupported)
    }

    /// The start tag of the next `<child>` inside `<parent>`, moving past it; `None` at
    /// `</parent>`. Anything else is `Unsupported`.
    pub(super) fn child(&mut self, parent: &[u8], child: &[u8]) -> Parse<Option<Tag<'a>>> {
        self.skip_whitespace();
        let tag = self.tag()?;
        match (tag.end, local(tag.name)) {
            (true, name) if name == parent => Ok(None),
            (false, name) if name == child => Ok(Some(tag)),
            _ => Err(Halt::Unsupported),
        }
    }

    /// The text of an element whose start tag was just read, through its end tag; empty for
    /// `<v/>`. Markup inside it is `Unsupported`.
    pub(super) fn text_of(&mut self, tag: &Tag<'_>) -> Parse<&'a [u8]> {
        if tag.empty {
            return Ok(&[]);
        }
        let start = self.i;
        while *self.b.get(self.i).ok_or(Halt::More)? != b'<' {
            self.i += 1;
        }
        let text = &self.b[start..self.i];
        let end = self.tag()?;
        if end.end && end.name == tag.name { Ok(text) } else { Err(Halt::Unsupported) }
    }

    /// The body of an element whose start tag was just read, moving past its end tag.
    pub(super) fn body_of(&mut self, tag: &Tag<'_>) -> Parse<&'a [u8]> {
        if tag.empty {
            return Ok(&[]);
        }
        let end = find_end(&self.b[self.i..], tag.name).ok_or(Halt::More)?;
        let body = &self.b[self.i..self.i + end];
        self.i += end + tag.name.len() + 3;
        Ok(body)
    }
}

/// The bytes of a sheet's XML, inflated a piece at a time into one buffer that is zeroed only
/// when it grows.
pub(super) struct Bytes<R> {
    src: R,
    buf: Vec<u8>,
    /// What is still to be parsed: `buf[pos..end]`.
    pub(super) pos: usize,
    end: usize,
}

impl<R: Read> Bytes<R> {
    pub(super) fn new(src: R) -> Bytes<R> {
        Bytes { src, buf: Vec::new(), pos: 0, end: 0 }
    }

    pub(super) fn rest(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Drops what was used and reads more; `None` at the end of the XML or on an error.
    ///
    /// It reads at least as much again as is still unparsed: an item that runs past what was
    /// read is parsed again from its start, and doubling what is read each time keeps one huge
    /// row linear in its size, where a fixed piece would make it quadratic (a 1 GB row, parsed
    /// again after every MiB).
    pub(super) fn more(&mut self) -> Option<()> {
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        let want = READ_BYTES.max(self.end);
        if self.buf.len() < self.end + want {
            self.buf.resize(self.end + want, 0);
        }
        let target = self.end + want;
        let start = self.end;
        while self.end < target {
            let n = self.src.read(&mut self.buf[self.end..target]).ok()?;
            if n == 0 {
                break;
            }
            self.end += n;
        }
        (self.end > start).then_some(())
    }

    /// The next item `parse` reads from the cursor, inflating more whenever the item runs past
    /// what has been inflated (it is then parsed again from its start); `None` when it is not
    /// as expected or the XML ends first.
    pub(super) fn next<T>(&mut self, mut parse: impl FnMut(&mut Cursor<'_>) -> Parse<T>) -> Option<T> {
        loop {
            let mut cursor = Cursor { b: self.rest(), i: 0 };
            match parse(&mut cursor) {
                Ok(item) => {
                    let used = cursor.i;
                    self.pos += used;
                    return Some(item);
                }
                Err(Halt::More) => self.more()?,
                Err(Halt::Unsupported) => return None,
            }
        }
    }

    /// Moves past the first `<name>`; false if there is none or it is empty (`<name/>`).
    pub(super) fn skip_to(&mut self, name: &[u8]) -> Option<bool> {
        loop {
            if let Some(at) = memmem::find(self.rest(), name) {
                let rest = self.rest();
                let start = rest[..at].iter().rposition(|b| *b == b'<')?;
                let Some(gt) = memchr(b'>', &rest[at..]).map(|gt| at + gt) else {
                    self.more()?;
                    continue;
                };
                let tag = Tag::parse(&rest[start + 1..gt])?;
                if tag.end || local(tag.name) != name {
                    return None;
                }
                let has_rows = !tag.empty;
                self.pos += gt + 1;
                return Some(has_rows);
            }
            // Keep enough to find the name across two pieces.
            self.pos = self.end.saturating_sub(64).max(self.pos);
            if self.more().is_none() {
                return Some(false);
            }
        }
    }
}

/// An element's tag, `<…>` without its brackets.
pub(super) struct Tag<'a> {
    pub(super) name: &'a [u8],
    attributes: &'a [u8],
    /// `</name>`
    pub(super) end: bool,
    /// `<name/>`
    pub(super) empty: bool,
}

impl<'a> Tag<'a> {
    /// `None` for a comment, CDATA, a processing instruction or a declaration.
    pub(super) fn parse(inner: &'a [u8]) -> Option<Tag<'a>> {
        if inner.first().is_some_and(|b| matches!(b, b'!' | b'?')) {
            return None;
        }
        let (end, inner) = match inner.strip_prefix(b"/") {
            Some(rest) => (true, rest),
            None => (false, inner),
        };
        let (empty, inner) = match inner.strip_suffix(b"/") {
            Some(rest) => (true, rest),
            None => (false, inner),
        };
        let name_end = inner.iter().position(u8::is_ascii_whitespace).unwrap_or(inner.len());
        let name = &inner[..name_end];
        (!name.is_empty()).then_some(Tag { name, attributes: &inner[name_end..], end, empty })
    }

    /// `Some(None)` if the element has no such attribute; `None` if its attributes are not
    /// well formed.
    pub(super) fn attribute(&self, key: &[u8]) -> Option<Option<&'a [u8]>> {
        let mut found = None;
        self.each_attribute(|name, value| {
            if name == key && found.is_none() {
                found = Some(value);
            }
        })?;
        Some(found)
    }

    /// Calls `each` with every attribute's name and raw value; `None` if they are not well
    /// formed.
    pub(super) fn each_attribute(&self, mut each: impl FnMut(&'a [u8], &'a [u8])) -> Option<()> {
        let b = self.attributes;
        let mut i = 0;
        loop {
            while b.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            if i == b.len() {
                return Some(());
            }
            let name_start = i;
            while b.get(i).is_some_and(|c| *c != b'=' && !c.is_ascii_whitespace()) {
                i += 1;
            }
            let name = &b[name_start..i];
            while b.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            if b.get(i) != Some(&b'=') || name.is_empty() {
                return None;
            }
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            let quote = *b.get(i).filter(|q| matches!(q, b'"' | b'\''))?;
            let start = i + 1;
            let len = b[start..].iter().position(|c| *c == quote)?;
            each(name, &b[start..start + len]);
            i = start + len + 1;
        }
    }
}

/// The text of an element whose tag ends at `after`, and where the element ends; empty for
/// `<v/>`. `None` if the element holds other elements.
pub(super) fn element_text<'a>(body: &'a [u8], tag: &Tag<'_>, after: usize) -> Option<(&'a [u8], usize)> {
    if tag.empty {
        return Some((&[], after));
    }
    let end = find_end(&body[after..], tag.name)?;
    Some((&body[after..after + end], after + end + tag.name.len() + 3))
}

/// The shared strings part (`sst`): each `<si>` read as an inline string.
pub(super) fn shared_strings(src: impl Read) -> Option<Vec<String>> {
    let mut bytes = Bytes::new(src);
    let mut strings = Vec::new();
    if !bytes.skip_to(b"sst")? {
        return Some(strings);
    }
    while let Some(string) = bytes.next(shared_string)? {
        strings.push(string);
    }
    Some(strings)
}

/// The next `<si>`'s string; `None` at the end of `sst`.
fn shared_string(cursor: &mut Cursor<'_>) -> Parse<Option<String>> {
    let Some(tag) = cursor.child(b"sst", b"si")? else { return Ok(None) };
    let body = cursor.body_of(&tag)?;
    inline_string(body).map(Some).ok_or(Halt::Unsupported)
}

/// An inline string (`<is>`'s body) or a shared one (`<si>`'s): calamine's
/// `read_string_with_bufs`.
pub(super) fn inline_string(body: &[u8]) -> Option<String> {
    let mut rich: Option<String> = None;
    let mut phonetic = false;
    let mut p = 0;
    loop {
        // Text between elements is not part of the string.
        let Some(lt) = memchr(b'<', &body[p..]) else { return Some(rich.unwrap_or_default()) };
        let gt = p + lt + memchr(b'>', &body[p + lt..])?;
        let tag = Tag::parse(&body[p + lt + 1..gt])?;
        p = gt + 1;
        match (tag.end, local(tag.name)) {
            (true, b"rPh") => phonetic = false,
            (false, b"r") if rich.is_none() => rich = Some(String::new()),
            (false, b"rPh") => phonetic = !tag.empty,
            (false, b"t") if !phonetic => {
                let (text, next) = element_text(body, &tag, p)?;
                p = next;
                let preserve = tag.attribute(b"xml:space")?.is_some_and(|v| v == b"preserve");
                let value = decode(text)?;
                let value = if preserve { value } else { value.trim_matches([' ', '\t', '\r', '\n']).to_string() };
                match &mut rich {
                    Some(s) => s.push_str(&value),
                    None => rich = Some(value),
                }
            }
            _ => {}
        }
    }
}

/// Element text with its entities decoded; `None` for markup inside it, a carriage return
/// (XML's line-end rules differ for entities) or an Excel escape.
pub(super) fn decode(text: &[u8]) -> Option<String> {
    if text.contains(&b'<') || text.contains(&b'\r') {
        return None;
    }
    let text = std::str::from_utf8(text).ok()?;
    let decoded =
        if text.contains('&') { quick_xml::escape::unescape(text).ok()?.into_owned() } else { text.to_string() };
    (!has_excel_escape(&decoded) && !decoded.contains('\r')).then_some(decoded)
}

/// Whether text may hold an Excel escape (`_x000D_`), which calamine decodes.
fn has_excel_escape(text: &str) -> bool {
    memmem::find(text.as_bytes(), b"_x").is_some()
}

pub(super) fn local(name: &[u8]) -> &[u8] {
    match memchr::memrchr(b':', name) {
        Some(colon) => &name[colon + 1..],
        None => name,
    }
}

/// Where `</name>` starts in `hay`.
pub(super) fn find_end(hay: &[u8], name: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + memchr(b'<', &hay[from..])?;
        let rest = &hay[at + 1..];
        if rest.first() == Some(&b'/') && rest[1..].starts_with(name) && rest.get(1 + name.len()) == Some(&b'>') {
            return Some(at);
        }
        from = at + 1;
    }
}

/// Plain decimal digits.
pub(super) fn number(text: &[u8]) -> Option<usize> {
    if text.is_empty() || text.len() > 12 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0, |n, d| n * 10 + (d - b'0') as usize))
}

/// A number as spreadsheets write it (`-12.5`, `4.5E-3`); other spellings are left to calamine.
pub(super) fn float(v: &str) -> Option<f64> {
    let b = v.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    v.parse().ok()
}

/// `B12` → (11, 1), 0-based; capital letters only, as Excel writes them.
pub(super) fn cell_ref(text: &[u8]) -> Option<(usize, usize)> {
    let split = text.iter().position(u8::is_ascii_digit)?;
    let (letters, digits) = text.split_at(split);
    if letters.is_empty() || letters.len() > 3 || !letters.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    let col = letters.iter().fold(0usize, |acc, b| acc * 26 + (b - b'A') as usize + 1);
    Some((number(digits)?.checked_sub(1)?, col - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives at most 1,000 bytes a call, as an inflater may.
    struct Trickle(std::io::Cursor<Vec<u8>>);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(1000);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn one_huge_item_is_parsed_a_few_times_not_once_per_piece() {
        // One 40 MiB element: parsed again from its start whenever it runs past what was read.
        let mut xml = b"<row>".to_vec();
        xml.resize(40 << 20, b'a');
        xml.extend_from_slice(b"</row><row/>");
        let mut bytes = Bytes::new(Trickle(std::io::Cursor::new(xml)));
        let mut attempts = 0;
        let item = bytes.next(|c| {
            attempts += 1;
            match memchr::memmem::find(&c.b[c.i..], b"</row>") {
                Some(at) => {
                    c.i += at + 6;
                    Ok(at)
                }
                None => Err(Halt::More),
            }
        });
        assert_eq!(item, Some(40 << 20));
        // Doubling what is read: about log2(40) attempts, where 1 MiB pieces took 41.
        assert!(attempts <= 10, "{attempts} attempts");
        assert_eq!(bytes.rest(), b"<row/>");
    }

    #[test]
    fn tags_and_attributes() {
        let tag = Tag::parse(br#"x:c r="B12" s='3' t="s""#).unwrap();
        assert_eq!(local(tag.name), b"c");
        assert_eq!(tag.attribute(b"r"), Some(Some(&b"B12"[..])));
        assert_eq!(tag.attribute(b"s"), Some(Some(&b"3"[..])));
        assert_eq!(tag.attribute(b"cm"), Some(None));
        assert!(Tag::parse(br#"c r="B12"#).unwrap().attribute(b"s").is_none(), "an unclosed quote");
        assert!(Tag::parse(b"!-- note --").is_none());
        let empty = Tag::parse(b"row r=\"3\"/").unwrap();
        assert!(empty.empty && !empty.end);
        assert!(Tag::parse(b"/sheetData").unwrap().end);
    }

    #[test]
    fn numbers_and_references() {
        assert_eq!(float("-12.5"), Some(-12.5));
        assert_eq!(float("4.5E-3"), Some(0.0045));
        assert_eq!(float("1e5"), Some(100000.0));
        for odd in ["", "-", "1.", ".5", "1e", " 1", "inf", "NaN", "+1", "0x10"] {
            assert_eq!(float(odd), None, "{odd:?}");
        }
        assert_eq!(cell_ref(b"A1"), Some((0, 0)));
        assert_eq!(cell_ref(b"AB12"), Some((11, 27)));
        assert_eq!(cell_ref(b"a1"), None);
        assert_eq!(cell_ref(b"A0"), None);
    }

    #[test]
    fn inline_strings_as_calamine_reads_them() {
        assert_eq!(inline_string(b"<t> a &amp; b </t>").as_deref(), Some("a & b"));
        assert_eq!(inline_string(br#"<t xml:space="preserve"> a </t>"#).as_deref(), Some(" a "));
        let rich =
            b"<r><rPr><b/></rPr><t>\xe8\x8d\xa3</t></r><r><t>\xe9\xa6\xa8</t></r><rPh sb=\"0\" eb=\"1\"><t>x</t></rPh>";
        assert_eq!(inline_string(rich).as_deref(), Some("荣馨"));
        assert_eq!(inline_string(b"").as_deref(), Some(""));
        assert_eq!(inline_string(b"<t>_x000D_</t>"), None, "Excel escapes are calamine's");
        assert_eq!(inline_string(b"<t><![CDATA[x]]></t>"), None);
    }
}
