//! The reader: a small PDF object parser (cross-reference table, dictionaries, arrays,
//! strings, streams without filters), a content-stream interpreter for text placement
//! and horizontal rules, and the table layout of [`super::write`] read back.

use std::collections::BTreeMap;

use crate::error::ReadError;
use crate::table::from_winansi;

/// How far apart two positions may be and still be the same (points).
const SAME_X: f64 = 0.5;
const SAME_Y: f64 = 0.01;

fn error(message: impl Into<String>) -> ReadError {
    ReadError::Pdf(message.into())
}

/// A PDF object (and, in content streams, operators as keywords).
#[derive(Clone, Debug, PartialEq)]
enum Obj {
    Null,
    Bool(bool),
    Num(f64),
    Str(Vec<u8>),
    Name(String),
    Array(Vec<Obj>),
    Dict(Vec<(String, Obj)>),
    Ref(u32),
    Keyword(String),
}

impl Obj {
    fn get(&self, key: &str) -> Option<&Obj> {
        match self {
            Obj::Dict(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Obj::Num(n) => Some(*n),
            _ => None,
        }
    }
}

/// A token: an object part or a delimiter.
#[derive(Debug, PartialEq)]
enum Token {
    Obj(Obj),
    ArrayOpen,
    ArrayClose,
    DictOpen,
    DictClose,
}

#[derive(Debug)]
struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, 0 | b'\t' | b'\n' | 0x0C | b'\r' | b' ')
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

impl<'a> Lexer<'a> {
    fn at(bytes: &'a [u8], pos: usize) -> Lexer<'a> {
        Lexer { bytes, pos }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            if is_space(b) {
                self.pos += 1;
            } else if b == b'%' {
                while self.peek().is_some_and(|b| b != b'\n' && b != b'\r') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn regular(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| !is_space(b) && !is_delimiter(b))
        {
            self.pos += 1;
        }
        &self.bytes[start..self.pos]
    }

    fn token(&mut self) -> Result<Option<Token>, ReadError> {
        self.skip_space();
        let Some(b) = self.peek() else {
            return Ok(None);
        };
        let rest = &self.bytes[self.pos..];
        let token = if rest.starts_with(b"<<") {
            self.pos += 2;
            Token::DictOpen
        } else if rest.starts_with(b">>") {
            self.pos += 2;
            Token::DictClose
        } else {
            match b {
                b'[' => {
                    self.pos += 1;
                    Token::ArrayOpen
                }
                b']' => {
                    self.pos += 1;
                    Token::ArrayClose
                }
                b'(' => Token::Obj(Obj::Str(self.literal()?)),
                b'<' => Token::Obj(Obj::Str(self.hex()?)),
                b'/' => {
                    self.pos += 1;
                    Token::Obj(Obj::Name(name(self.regular())))
                }
                b')' | b'>' | b'{' | b'}' => {
                    return Err(error(format!("unexpected {:?}", char::from(b))));
                }
                _ => {
                    let word = self.regular();
                    if word.is_empty() {
                        return Err(error(format!("unexpected byte {b:#04x}")));
                    }
                    let text = String::from_utf8_lossy(word);
                    match text.as_ref() {
                        "true" => Token::Obj(Obj::Bool(true)),
                        "false" => Token::Obj(Obj::Bool(false)),
                        "null" => Token::Obj(Obj::Null),
                        t => match t.parse::<f64>() {
                            Ok(n)
                                if t.starts_with(|c: char| {
                                    c.is_ascii_digit() || matches!(c, '+' | '-' | '.')
                                }) =>
                            {
                                Token::Obj(Obj::Num(n))
                            }
                            _ => Token::Obj(Obj::Keyword(t.to_owned())),
                        },
                    }
                }
            }
        };
        Ok(Some(token))
    }

    /// A literal string after its `(`.
    fn literal(&mut self) -> Result<Vec<u8>, ReadError> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut depth = 0usize;
        loop {
            let b = self.peek().ok_or_else(|| error("unclosed string"))?;
            self.pos += 1;
            match b {
                b'(' => {
                    depth += 1;
                    out.push(b);
                }
                b')' if depth == 0 => return Ok(out),
                b')' => {
                    depth -= 1;
                    out.push(b);
                }
                b'\\' => self.escape(&mut out)?,
                b'\r' => {
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                    out.push(b'\n');
                }
                b => out.push(b),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), ReadError> {
        let b = self.peek().ok_or_else(|| error("unclosed string"))?;
        self.pos += 1;
        match b {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0C),
            b'0'..=b'7' => {
                let mut value = u32::from(b - b'0');
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                out.push((value & 0xFF) as u8);
            }
            b'\r' => {
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
            }
            b'\n' => {}
            b => out.push(b),
        }
        Ok(())
    }

    /// A hex string after its `<`.
    fn hex(&mut self) -> Result<Vec<u8>, ReadError> {
        self.pos += 1;
        let mut digits = Vec::new();
        loop {
            let b = self.peek().ok_or_else(|| error("unclosed hex string"))?;
            self.pos += 1;
            match b {
                b'>' => break,
                b if is_space(b) => {}
                b => digits.push(
                    char::from(b)
                        .to_digit(16)
                        .ok_or_else(|| error("bad hex string"))? as u8,
                ),
            }
        }
        if digits.len() % 2 == 1 {
            digits.push(0);
        }
        Ok(digits.chunks(2).map(|p| p[0] * 16 + p[1]).collect())
    }

    /// The next object; `n g R` is a reference.
    fn object(&mut self) -> Result<Option<Obj>, ReadError> {
        let Some(token) = self.token()? else {
            return Ok(None);
        };
        Ok(Some(match token {
            Token::Obj(Obj::Num(n)) => {
                let save = self.pos;
                let reference = match (self.token()?, self.token()?) {
                    (Some(Token::Obj(Obj::Num(_))), Some(Token::Obj(Obj::Keyword(k))))
                        if k == "R" && n >= 0.0 && n.fract() == 0.0 =>
                    {
                        Some(Obj::Ref(n as u32))
                    }
                    _ => None,
                };
                reference.unwrap_or_else(|| {
                    self.pos = save;
                    Obj::Num(n)
                })
            }
            Token::Obj(o) => o,
            Token::ArrayOpen => {
                let mut items = Vec::new();
                loop {
                    let save = self.pos;
                    match self.token()? {
                        Some(Token::ArrayClose) => break,
                        None => return Err(error("unclosed array")),
                        Some(_) => {
                            self.pos = save;
                            items.push(self.object()?.ok_or_else(|| error("unclosed array"))?);
                        }
                    }
                }
                Obj::Array(items)
            }
            Token::DictOpen => {
                let mut pairs = Vec::new();
                loop {
                    match self.token()? {
                        Some(Token::DictClose) => break,
                        Some(Token::Obj(Obj::Name(key))) => {
                            let value =
                                self.object()?.ok_or_else(|| error("unclosed dictionary"))?;
                            pairs.push((key, value));
                        }
                        _ => return Err(error("bad dictionary")),
                    }
                }
                Obj::Dict(pairs)
            }
            Token::ArrayClose | Token::DictClose => return Err(error("unbalanced brackets")),
        }))
    }
}

/// A name's text, `#xx` escapes decoded.
fn name(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = raw
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (raw[i], hex) {
            (b'#', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed file: where each object is, and the trailer.
#[derive(Debug)]
struct Document<'a> {
    bytes: &'a [u8],
    offsets: BTreeMap<u32, usize>,
    trailer: Obj,
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn whole(n: f64) -> Option<usize> {
    (n >= 0.0 && n.fract() == 0.0 && n < 1e15).then_some(n as usize)
}

impl<'a> Document<'a> {
    fn open(bytes: &'a [u8]) -> Result<Document<'a>, ReadError> {
        if !bytes.starts_with(b"%PDF-") {
            return Err(error("not a PDF file"));
        }
        let start = find_last(bytes, b"startxref").ok_or_else(|| error("no startxref"))?;
        let mut lexer = Lexer::at(bytes, start + 9);
        let xref = match lexer.object()? {
            Some(Obj::Num(n)) => whole(n).ok_or_else(|| error("bad startxref"))?,
            _ => return Err(error("bad startxref")),
        };
        let mut lexer = Lexer::at(bytes, xref);
        if lexer.token()? != Some(Token::Obj(Obj::Keyword("xref".into()))) {
            return Err(error("no cross-reference table at startxref"));
        }
        let mut offsets = BTreeMap::new();
        loop {
            match lexer.token()? {
                Some(Token::Obj(Obj::Keyword(k))) if k == "trailer" => break,
                Some(Token::Obj(Obj::Num(first))) => {
                    let count = match lexer.token()? {
                        Some(Token::Obj(Obj::Num(c))) => c,
                        _ => return Err(error("bad cross-reference subsection")),
                    };
                    let first = whole(first).ok_or_else(|| error("bad cross-reference"))?;
                    for k in 0..whole(count).ok_or_else(|| error("bad cross-reference"))? {
                        let entry = (lexer.token()?, lexer.token()?, lexer.token()?);
                        let (
                            Some(Token::Obj(Obj::Num(offset))),
                            Some(_),
                            Some(Token::Obj(Obj::Keyword(kind))),
                        ) = entry
                        else {
                            return Err(error("bad cross-reference entry"));
                        };
                        if kind == "n" {
                            let number =
                                u32::try_from(first + k).map_err(|_| error("bad object number"))?;
                            let offset = whole(offset).ok_or_else(|| error("bad offset"))?;
                            offsets.insert(number, offset);
                        }
                    }
                }
                _ => return Err(error("bad cross-reference table")),
            }
        }
        let trailer = lexer.object()?.ok_or_else(|| error("no trailer"))?;
        Ok(Document {
            bytes,
            offsets,
            trailer,
        })
    }

    /// Object `number` and its stream's bytes, if it has one.
    fn object(&self, number: u32) -> Result<(Obj, Option<&'a [u8]>), ReadError> {
        let offset = *self.offsets.get(&number).ok_or_else(|| {
            error(format!(
                "object {number} is not in the cross-reference table"
            ))
        })?;
        let mut lexer = Lexer::at(self.bytes, offset);
        let header = (lexer.token()?, lexer.token()?, lexer.token()?);
        match header {
            (Some(Token::Obj(Obj::Num(n))), Some(_), Some(Token::Obj(Obj::Keyword(k))))
                if k == "obj" && whole(n) == Some(number as usize) => {}
            _ => {
                return Err(error(format!(
                    "the cross-reference offset of object {number} is wrong"
                )));
            }
        }
        let object = lexer.object()?.ok_or_else(|| error("empty object"))?;
        if lexer.token()? != Some(Token::Obj(Obj::Keyword("stream".into()))) {
            return Ok((object, None));
        }
        if object.get("Filter").is_some() {
            return Err(error("compressed streams are not read"));
        }
        let mut start = lexer.pos;
        if self.bytes.get(start) == Some(&b'\r') {
            start += 1;
        }
        if self.bytes.get(start) == Some(&b'\n') {
            start += 1;
        }
        let length = match object.get("Length") {
            Some(Obj::Ref(n)) => self.object(*n)?.0.num(),
            Some(other) => other.num(),
            None => None,
        }
        .and_then(whole)
        .ok_or_else(|| error("a stream without a length"))?;
        let data = self
            .bytes
            .get(start..start + length)
            .ok_or_else(|| error("a stream runs past the end of the file"))?;
        Ok((object, Some(data)))
    }

    fn resolve(&self, obj: &Obj) -> Result<Obj, ReadError> {
        match obj {
            Obj::Ref(n) => Ok(self.object(*n)?.0),
            other => Ok(other.clone()),
        }
    }

    /// The pages in order (page tree depth-first).
    fn pages(&self) -> Result<Vec<Obj>, ReadError> {
        let root = self.resolve(self.trailer.get("Root").ok_or_else(|| error("no Root"))?)?;
        let tree = self.resolve(root.get("Pages").ok_or_else(|| error("no Pages"))?)?;
        let mut pages = Vec::new();
        self.collect(&tree, &mut pages, 0)?;
        Ok(pages)
    }

    fn collect(&self, node: &Obj, pages: &mut Vec<Obj>, depth: usize) -> Result<(), ReadError> {
        if depth > 32 {
            return Err(error("the page tree is too deep"));
        }
        if node.get("Type") == Some(&Obj::Name("Page".into())) {
            pages.push(node.clone());
            return Ok(());
        }
        let Some(Obj::Array(kids)) = node.get("Kids") else {
            return Err(error("a page tree node without Kids"));
        };
        for kid in kids {
            self.collect(&self.resolve(kid)?, pages, depth + 1)?;
        }
        Ok(())
    }

    /// A page's content, its streams concatenated.
    fn content(&self, page: &Obj) -> Result<Vec<u8>, ReadError> {
        let refs = match page.get("Contents") {
            Some(Obj::Array(items)) => items.clone(),
            Some(one) => vec![one.clone()],
            None => Vec::new(),
        };
        let mut out = Vec::new();
        for r in refs {
            let Obj::Ref(n) = r else {
                return Err(error("page contents are not references"));
            };
            let (_, data) = self.object(n)?;
            out.extend_from_slice(data.ok_or_else(|| error("page contents are not a stream"))?);
            out.push(b'\n');
        }
        Ok(out)
    }

    /// The column kinds from the document information, when given.
    fn kinds(&self) -> Result<Option<Vec<bool>>, ReadError> {
        let Some(info) = self.trailer.get("Info") else {
            return Ok(None);
        };
        Ok(match self.resolve(info)?.get("ColumnKinds") {
            Some(Obj::Str(s)) if s.is_empty() => Some(Vec::new()),
            Some(Obj::Str(s)) => Some(
                String::from_utf8_lossy(s)
                    .split(',')
                    .map(|k| k.trim() == "integer")
                    .collect(),
            ),
            _ => None,
        })
    }
}

/// A string shown on a page.
#[derive(Clone, Debug, PartialEq)]
struct Shown {
    x: f64,
    y: f64,
    text: String,
}

fn decode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| from_winansi(*b)).collect()
}

/// The text matrix of the text being placed: `[a b c d e f]`.
type Matrix = [f64; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

fn translate(m: Matrix, tx: f64, ty: f64) -> Matrix {
    [
        m[0],
        m[1],
        m[2],
        m[3],
        tx.mul_add(m[0], ty.mul_add(m[2], m[4])),
        tx.mul_add(m[1], ty.mul_add(m[3], m[5])),
    ]
}

/// The last `n` operands as numbers.
fn numbers<const N: usize>(operands: &[Obj]) -> Option<[f64; N]> {
    let tail = operands.get(operands.len().checked_sub(N)?..)?;
    let mut out = [0.0; N];
    for (slot, o) in out.iter_mut().zip(tail) {
        *slot = o.num()?;
    }
    Some(out)
}

/// The strings shown (with the position each starts at) and the heights of horizontal
/// lines drawn, in a content stream. Text placement follows `BT`, `Tm`, `Td`, `TD`, `TL`,
/// `T*`, `Tj`, `TJ`, `'` and `"`; lines `m` then `l` at the same height.
fn interpret(content: &[u8]) -> Result<(Vec<Shown>, Vec<f64>), ReadError> {
    let mut lexer = Lexer::at(content, 0);
    let (mut shown, mut rules) = (Vec::new(), Vec::new());
    let mut operands: Vec<Obj> = Vec::new();
    let (mut line, mut leading, mut point) = (IDENTITY, 0.0, (0.0, 0.0));
    while let Some(obj) = lexer.object()? {
        let Obj::Keyword(op) = obj else {
            operands.push(obj);
            continue;
        };
        let mut show = |line: &Matrix, s: Option<&Obj>| {
            let text = match s {
                Some(Obj::Str(bytes)) => decode(bytes),
                Some(Obj::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| match p {
                        Obj::Str(b) => Some(decode(b)),
                        _ => None,
                    })
                    .collect(),
                _ => return,
            };
            shown.push(Shown {
                x: line[4],
                y: line[5],
                text,
            });
        };
        match op.as_str() {
            "BT" => line = IDENTITY,
            "Tm" => {
                if let Some(m) = numbers::<6>(&operands) {
                    line = m;
                }
            }
            "Td" | "TD" => {
                if let Some([tx, ty]) = numbers::<2>(&operands) {
                    line = translate(line, tx, ty);
                    if op == "TD" {
                        leading = -ty;
                    }
                }
            }
            "TL" => leading = numbers::<1>(&operands).map_or(leading, |[l]| l),
            "T*" => line = translate(line, 0.0, -leading),
            "Tj" | "TJ" => show(&line, operands.last()),
            "'" | "\"" => {
                line = translate(line, 0.0, -leading);
                show(&line, operands.last());
            }
            "m" => point = numbers::<2>(&operands).map_or(point, |[x, y]| (x, y)),
            "l" => {
                if let Some([x, y]) = numbers::<2>(&operands) {
                    if (y - point.1).abs() < SAME_Y && (x - point.0).abs() > SAME_Y {
                        rules.push(y);
                    }
                    point = (x, y);
                }
            }
            _ => {}
        }
        operands.clear();
    }
    Ok((shown, rules))
}

/// Rows of one page: the bands between its rules, each a list of cells.
fn page_rows(shown: &[Shown], mut rules: Vec<f64>) -> Result<Vec<Vec<String>>, ReadError> {
    rules.sort_by(|a, b| b.total_cmp(a));
    rules.dedup_by(|a, b| (*a - *b).abs() < SAME_Y);
    if rules.len() < 2 {
        return Err(error("a page without the table's rules"));
    }
    let band_of = |y: f64| {
        let above = rules.iter().filter(|r| **r > y).count();
        (above > 0 && above < rules.len()).then(|| above - 1)
    };
    let mut lefts: Vec<f64> = shown
        .iter()
        .filter(|s| band_of(s.y) == Some(0))
        .map(|s| s.x)
        .collect();
    lefts.sort_by(f64::total_cmp);
    lefts.dedup_by(|a, b| (*a - *b).abs() < SAME_X);
    if lefts.is_empty() {
        return Err(error("a page without a header row"));
    }
    let mut bands: Vec<Vec<Vec<&Shown>>> = vec![vec![Vec::new(); lefts.len()]; rules.len() - 1];
    for s in shown {
        let Some(band) = band_of(s.y) else { continue };
        let column = lefts
            .iter()
            .rposition(|left| *left <= s.x + SAME_X)
            .unwrap_or(0);
        bands[band][column].push(s);
    }
    Ok(bands
        .into_iter()
        .map(|cells| {
            cells
                .into_iter()
                .map(|mut lines| {
                    lines.sort_by(|a, b| b.y.total_cmp(&a.y).then(a.x.total_cmp(&b.x)));
                    lines
                        .iter()
                        .map(|s| s.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        })
        .collect())
}

/// Reads a table written by [`super::pdf`]: the header, then every row in order (the
/// header repeated on later pages, the title, subtitle and footers left out).
pub fn read_pdf(bytes: &[u8]) -> Result<Vec<Vec<String>>, ReadError> {
    let document = Document::open(bytes)?;
    let kinds = document.kinds()?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (n, page) in document.pages()?.iter().enumerate() {
        let (shown, rules) = interpret(&document.content(page)?)?;
        let bands = page_rows(&shown, rules)?;
        rows.extend(bands.into_iter().skip(usize::from(n > 0)));
    }
    let width = rows.first().map_or(0, Vec::len);
    if let Some(kinds) = &kinds
        && kinds.len() != width
    {
        return Err(error(format!(
            "{width} header cells for {} column kinds",
            kinds.len()
        )));
    }
    for row in rows.iter_mut().skip(1) {
        if row.len() != width {
            return Err(error("a row's cells do not line up with the header"));
        }
        for (cell, integer) in row.iter_mut().zip(kinds.iter().flatten()) {
            if *integer {
                cell.retain(|c| c != ',');
            }
        }
    }
    Ok(rows)
}

/// The number of pages (for tests).
#[cfg(test)]
pub(crate) fn page_count(bytes: &[u8]) -> Result<usize, ReadError> {
    Ok(Document::open(bytes)?.pages()?.len())
}

#[cfg(test)]
mod tests {
    use super::super::write::pdf;
    use super::*;
    use crate::table::{Cell, Column, Table, fixtures};

    #[test]
    fn awkward_cells_round_trip() {
        let t = fixtures::awkward();
        assert_eq!(read_pdf(&pdf(&t)).expect("reads"), t.display_rows());
    }

    #[test]
    fn an_empty_table_is_one_page_with_its_header() {
        let t = fixtures::numbered(0);
        let bytes = pdf(&t);
        assert_eq!(page_count(&bytes).expect("opens"), 1);
        assert_eq!(read_pdf(&bytes).expect("reads"), t.display_rows());
    }

    #[test]
    fn five_hundred_rows_come_back_in_order_from_several_pages() {
        let t = fixtures::numbered(500);
        let bytes = pdf(&t);
        let pages = page_count(&bytes).expect("opens");
        assert!(pages >= 10, "{pages} pages");
        let rows = read_pdf(&bytes).expect("reads");
        assert_eq!(rows.len(), 501);
        assert_eq!(rows, t.display_rows());
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(text.matches("(id) Tj").count(), pages);
        assert!(text.contains(&format!("(Page {pages} of {pages}) Tj")));
        assert_eq!(text.matches("(Numbered) Tj").count(), 1);
    }

    #[test]
    fn wrapped_shrunk_and_widened_tables_round_trip() {
        let mut wrapped = Table::new("wrapped", vec![Column::text("a"), Column::integer("n")]);
        wrapped
            .push_row(vec![
                "lorem ipsum dolor  sit amet ".repeat(40).into(),
                Cell::Integer(-1_234),
            ])
            .expect("fits");
        wrapped
            .push_row(vec!["next".into(), Cell::Empty])
            .expect("fits");
        let columns: Vec<Column> = (0..12).map(|i| Column::text(format!("c {i}"))).collect();
        let mut wide = Table::new("wide", columns);
        wide.push_row(vec!["y".repeat(60).into(); 12])
            .expect("fits");
        let mut tall = Table::new("tall", vec![Column::text("a")]);
        tall.push_row(vec!["word ".repeat(9_000).into()])
            .expect("fits");
        for t in [wrapped, wide, tall] {
            let bytes = pdf(&t);
            assert_eq!(
                read_pdf(&bytes).expect("reads"),
                t.display_rows(),
                "{}",
                t.title()
            );
        }
    }

    #[test]
    fn the_same_table_gives_the_same_bytes() {
        assert_eq!(pdf(&fixtures::awkward()), pdf(&fixtures::awkward()));
    }

    #[test]
    fn every_cross_reference_offset_points_at_its_object() {
        let bytes = pdf(&fixtures::numbered(120));
        let document = Document::open(&bytes).expect("opens");
        assert_eq!(
            document.offsets.len(),
            5 + 2 * page_count(&bytes).expect("pages")
        );
        for (number, offset) in &document.offsets {
            let head = format!("{number} 0 obj");
            assert!(
                bytes[*offset..].starts_with(head.as_bytes()),
                "object {number}"
            );
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/BaseFont /Helvetica /Encoding /WinAnsiEncoding"));
        assert!(text.contains("/MediaBox [0 0 842 595]"));
        assert!(text.ends_with("%%EOF\n"));
    }

    #[test]
    fn streams_written_elsewhere_are_interpreted_too() {
        let content = b"BT /F1 10 Tf 12 TL 50 700 Td (first) Tj T* (second) Tj ET \
                        0 690 m 100 690 l S BT [(a) -20 (b)] TJ ET";
        let (shown, rules) = interpret(content).expect("parses");
        assert_eq!(
            shown,
            vec![
                Shown {
                    x: 50.0,
                    y: 700.0,
                    text: "first".into()
                },
                Shown {
                    x: 50.0,
                    y: 688.0,
                    text: "second".into()
                },
                Shown {
                    x: 0.0,
                    y: 0.0,
                    text: "ab".into()
                },
            ]
        );
        assert_eq!(rules, vec![690.0]);
    }

    #[test]
    fn strings_names_and_references_parse() {
        let mut lexer = Lexer::at(
            b"<< /A#20B (x\\(y\\)\\101\\\nz) /R 12 0 R /H <48 6> /N [1 -2.5 .5] >>",
            0,
        );
        let obj = lexer.object().expect("parses").expect("an object");
        assert_eq!(obj.get("A B"), Some(&Obj::Str(b"x(y)Az".to_vec())));
        assert_eq!(obj.get("R"), Some(&Obj::Ref(12)));
        assert_eq!(obj.get("H"), Some(&Obj::Str(vec![0x48, 0x60])));
        assert_eq!(
            obj.get("N"),
            Some(&Obj::Array(vec![
                Obj::Num(1.0),
                Obj::Num(-2.5),
                Obj::Num(0.5)
            ]))
        );
    }

    #[test]
    fn files_that_are_not_ours_are_errors() {
        assert!(read_pdf(b"hello").is_err());
        let mut bytes = pdf(&fixtures::numbered(3));
        let at = find_last(&bytes, b"startxref").expect("startxref") + 10;
        bytes[at] = b'9';
        assert!(read_pdf(&bytes).is_err());
    }
}
