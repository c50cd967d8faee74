//! XML escaping for the writer, and a small parser into an element tree for the reader:
//! elements, attributes, text, the five predefined entities and character references,
//! CDATA; declarations, comments and processing instructions are skipped. Names keep
//! their prefix; [`Element::local`] compares without it.

use crate::error::ReadError;

/// Text or an attribute value, escaped (`& < > " '`).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) children: Vec<Node>,
}

/// A child of an element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    /// Whether the name without its prefix is `local`.
    pub(crate) fn is(&self, local: &str) -> bool {
        self.local() == local
    }

    /// The name without its prefix.
    pub(crate) fn local(&self) -> &str {
        self.name.rsplit(':').next().unwrap_or(&self.name)
    }

    /// The value of the attribute named exactly `name`.
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The child elements.
    pub(crate) fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element named `local`.
    pub(crate) fn child(&self, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(local))
    }

    /// The element's own text (not its descendants').
    pub(crate) fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }
}

fn error(message: impl Into<String>) -> ReadError {
    ReadError::Xml(message.into())
}

/// Parses a document into its root element.
pub(crate) fn parse(bytes: &[u8]) -> Result<Element, ReadError> {
    let text = std::str::from_utf8(bytes).map_err(|_| error("not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").ok_or_else(|| error("unclosed CDATA"))?;
            push_text(&mut stack, after[..end].to_owned());
            rest = &after[end + 3..];
        } else if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").ok_or_else(|| error("unclosed comment"))?;
            rest = &after[end + 3..];
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            let end = rest
                .find('>')
                .ok_or_else(|| error("unclosed declaration"))?;
            rest = &rest[end + 1..];
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').ok_or_else(|| error("unclosed end tag"))?;
            let name = after[..end].trim();
            let element = stack
                .pop()
                .filter(|e| e.name == name)
                .ok_or_else(|| error(format!("unexpected </{name}>")))?;
            stack
                .last_mut()
                .ok_or_else(|| error("unbalanced tags"))?
                .children
                .push(Node::Element(element));
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('<') {
            let (element, closed, used) = start_tag(after)?;
            if closed {
                stack
                    .last_mut()
                    .ok_or_else(|| error("unbalanced tags"))?
                    .children
                    .push(Node::Element(element));
            } else {
                stack.push(element);
            }
            rest = &after[used..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            push_text(&mut stack, unescape(&rest[..end])?);
            rest = &rest[end..];
        }
    }
    let document = stack.pop().filter(|_| stack.is_empty());
    document
        .and_then(|d| {
            d.children.into_iter().find_map(|n| match n {
                Node::Element(e) => Some(e),
                Node::Text(_) => None,
            })
        })
        .ok_or_else(|| error("no root element, or unclosed elements"))
}

fn push_text(stack: &mut [Element], text: String) {
    if let Some(top) = stack.last_mut() {
        top.children.push(Node::Text(text));
    }
}

/// A start tag after its `<`: the element, whether it closed itself, bytes used.
fn start_tag(after: &str) -> Result<(Element, bool, usize), ReadError> {
    let name_end = after
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .ok_or_else(|| error("unclosed start tag"))?;
    let mut element = Element {
        name: after[..name_end].to_owned(),
        ..Element::default()
    };
    let mut at = name_end;
    loop {
        let rest = &after[at..];
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        if trimmed.starts_with("/>") {
            return Ok((element, true, at + 2));
        }
        if trimmed.starts_with('>') {
            return Ok((element, false, at + 1));
        }
        let eq = trimmed
            .find('=')
            .ok_or_else(|| error(format!("bad attribute in <{}>", element.name)))?;
        let name = trimmed[..eq].trim().to_owned();
        let value_part = trimmed[eq + 1..].trim_start();
        let quote = value_part
            .chars()
            .next()
            .filter(|q| *q == '"' || *q == '\'')
            .ok_or_else(|| error(format!("unquoted attribute {name}")))?;
        let close = value_part[1..]
            .find(quote)
            .ok_or_else(|| error(format!("unclosed attribute {name}")))?;
        element
            .attributes
            .push((name, unescape(&value_part[1..=close])?));
        let value_start = trimmed.len() - value_part.len();
        at += value_start + close + 2;
    }
}

/// Text with entities and character references replaced.
fn unescape(text: &str) -> Result<String, ReadError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after
            .find(';')
            .ok_or_else(|| error("unterminated entity"))?;
        let entity = &after[..semi];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e => {
                let code = if let Some(hex) = e.strip_prefix("#x").or(e.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok()
                } else {
                    e.strip_prefix('#').and_then(|d| d.parse().ok())
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| error(format!("unknown entity &{e};")))?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_parses_back() {
        let text = "a & b < c > d \"e\" 'f' é";
        let doc = format!(
            "<?xml version=\"1.0\"?><!-- c --><r a=\"{}\"><t xml:space=\"preserve\">{}</t><x:e/></r>",
            escape(text),
            escape(text)
        );
        let root = parse(doc.as_bytes()).expect("parses");
        assert_eq!(root.attribute("a"), Some(text));
        assert_eq!(root.child("t").expect("t").text(), text);
        assert!(root.child("e").is_some());
    }

    #[test]
    fn references_and_cdata_are_text() {
        let root = parse(b"<r>&#65;&#x42;<![CDATA[<C>]]></r>").expect("parses");
        assert_eq!(root.text(), "AB<C>");
    }

    #[test]
    fn unbalanced_documents_are_errors() {
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a>").is_err());
        assert!(parse(b"<a x=1/>").is_err());
        assert!(parse(b"<a>&bogus;</a>").is_err());
    }
}
