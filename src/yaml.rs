//! YAML read the way the Python original reads it.
//!
//! The original loads its configuration with PyYAML's safe loader, which
//! follows YAML 1.1: `yes`, `on` and `off` are booleans there, `3_600` is the
//! integer 3600, `010` is 8 and `1:30` is 90, while `0o17` and `1e3` stay
//! text. serde_yaml follows YAML 1.2 and reads several of these differently.
//! So profiles are parsed here: the event parser of `yaml-rust2` gives each
//! scalar with its style (plain or quoted), and [`resolve_plain`] types plain
//! scalars with PyYAML's rules. The result is a [`serde_yaml::Value`], which
//! the rest of the crate deserializes as before.
//!
//! Writing goes the other way: [`to_string`] quotes every string that PyYAML
//! would read as something else, so a saved profile means the same to the
//! original and to stemzip.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Number, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// How deeply collections may nest before the text is refused.
const MAX_DEPTH: usize = 256;
/// How many values a document may expand to (aliases included) before it is
/// refused: a guard against alias bombs.
const MAX_NODES: usize = 1_000_000;

/// Why a text is not YAML this crate can read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl YamlError {
    fn at(marker: yaml_rust2::scanner::Marker, message: impl Into<String>) -> Self {
        YamlError {
            line: Some(marker.line()),
            column: Some(marker.col()),
            message: message.into(),
        }
    }
}

/// PyYAML's implicit resolvers (`yaml/resolver.py`), as regular expressions.
struct Resolvers {
    boolean: Regex,
    int: Regex,
    float: Regex,
}

static RESOLVERS: LazyLock<Option<Resolvers>> = LazyLock::new(|| {
    Some(Resolvers {
        boolean: Regex::new(
            "^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
        )
        .ok()?,
        int: Regex::new(
            "^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
        )
        .ok()?,
        float: Regex::new(
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        )
        .ok()?,
    })
});

/// The value PyYAML's safe loader gives a plain (unquoted) scalar.
///
/// Timestamps (`2024-01-31`) stay text: no key stemzip reads takes a date.
pub fn resolve_plain(text: &str) -> Value {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    let Some(r) = RESOLVERS.as_ref() else {
        return Value::String(text.to_owned());
    };
    if r.boolean.is_match(text) {
        return Value::Bool(
            matches!(text.as_bytes()[0], b'y' | b'Y' | b't' | b'T')
                || text.eq_ignore_ascii_case("on"),
        );
    }
    if r.float.is_match(text)
        && let Some(f) = python_float(text)
    {
        return Value::Number(Number::from(f));
    }
    if r.int.is_match(text) {
        if let Some(n) = python_int(text) {
            return int_value(n);
        }
        // Past 128 bits (Python's integers have no limit): the nearest float
        // of a decimal keeps the magnitude, which is all a setting can use.
        if let Ok(f) = text.replace('_', "").parse::<f64>() {
            return Value::Number(Number::from(f));
        }
    }
    Value::String(text.to_owned())
}

/// Whether PyYAML would read `text`, written plain, as something other than
/// that same text (so it must be quoted when saved).
pub fn plain_is_not_text(text: &str) -> bool {
    text == "<<" || !matches!(resolve_plain(text), Value::String(ref s) if s == text)
}

fn int_value(n: i128) -> Value {
    if let Ok(i) = i64::try_from(n) {
        Value::Number(Number::from(i))
    } else if let Ok(u) = u64::try_from(n) {
        Value::Number(Number::from(u))
    } else {
        // Python's integers have no limit; past 64 bits the nearest float
        // keeps the magnitude, which is all a setting can use.
        Value::Number(Number::from(n as f64))
    }
}

/// Splits a sign off a scalar with its `_` separators removed.
fn sign_and_digits(text: &str) -> (bool, String) {
    let cleaned = text.replace('_', "");
    match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest.to_owned()),
        None => (false, cleaned.trim_start_matches('+').to_owned()),
    }
}

/// PyYAML's `construct_yaml_int`.
fn python_int(text: &str) -> Option<i128> {
    let (negative, digits) = sign_and_digits(text);
    let magnitude = if digits == "0" {
        0
    } else if let Some(bin) = digits.strip_prefix("0b") {
        i128::from_str_radix(bin, 2).ok()?
    } else if let Some(hex) = digits.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()?
    } else if digits.starts_with('0') {
        i128::from_str_radix(&digits, 8).ok()?
    } else if digits.contains(':') {
        digits.split(':').try_fold(0i128, |acc, part| {
            acc.checked_mul(60)?.checked_add(part.parse::<i128>().ok()?)
        })?
    } else {
        digits.parse().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// PyYAML's `construct_yaml_float`.
fn python_float(text: &str) -> Option<f64> {
    let (negative, digits) = sign_and_digits(&text.to_ascii_lowercase());
    let magnitude = match digits.as_str() {
        ".inf" => f64::INFINITY,
        ".nan" => f64::NAN,
        _ if digits.contains(':') => {
            let mut value = 0.0;
            for part in digits.split(':') {
                value = value * 60.0 + decimal(part)?;
            }
            value
        }
        _ => decimal(&digits)?,
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// A decimal number as Python's `float()` reads it (`1.`, `.5`, `1.e+3`).
fn decimal(text: &str) -> Option<f64> {
    let (mantissa, exponent) = match text.find('e') {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let mut normal = String::with_capacity(text.len() + 2);
    if mantissa.starts_with('.') {
        normal.push('0');
    }
    normal.push_str(mantissa);
    if mantissa.ends_with('.') {
        normal.push('0');
    }
    normal.push_str(exponent);
    normal.parse().ok()
}

/// The YAML 1.1 core tag a tag names (`!!int` → `int`), if it is one.
fn core_tag(tag: &yaml_rust2::parser::Tag) -> Option<&str> {
    match tag.handle.as_str() {
        "tag:yaml.org,2002:" | "!!" => Some(tag.suffix.as_str()),
        _ => None,
    }
}

/// A tag other than a core one, as serde_yaml keeps it; `None` for the
/// non-specific tag `!`, which only says "not resolved": text for a scalar.
fn custom_tag(tag: &yaml_rust2::parser::Tag) -> Option<Tag> {
    let text = format!("{}{}", tag.handle, tag.suffix);
    (!text.trim_start_matches('!').is_empty()).then(|| Tag::new(text))
}

/// A scalar event as a value, with PyYAML's typing.
fn scalar(text: String, style: TScalarStyle, tag: Option<&yaml_rust2::parser::Tag>) -> Value {
    let plain = matches!(style, TScalarStyle::Plain);
    match tag {
        None if plain => resolve_plain(&text),
        None => Value::String(text),
        Some(tag) => match core_tag(tag) {
            Some("str") => Value::String(text),
            Some("null") => Value::Null,
            Some("float") => match resolve_plain(&text) {
                // `!!float 1` is 1.0 to PyYAML.
                Value::Number(n) if !n.is_f64() => {
                    Value::Number(Number::from(n.as_f64().unwrap_or(f64::NAN)))
                }
                other => other,
            },
            Some("bool" | "int") => resolve_plain(&text),
            Some(_) => Value::String(text),
            None => match custom_tag(tag) {
                None => Value::String(text),
                Some(tag) => Value::Tagged(Box::new(TaggedValue {
                    tag,
                    value: if plain {
                        resolve_plain(&text)
                    } else {
                        Value::String(text)
                    },
                })),
            },
        },
    }
}

/// A collection being read.
enum Open {
    Sequence {
        items: Vec<Value>,
        anchor: usize,
        tag: Option<Tag>,
    },
    Mapping {
        map: Mapping,
        key: Option<Value>,
        anchor: usize,
        tag: Option<Tag>,
    },
}

/// Builds a value tree from parser events.
#[derive(Default)]
struct Composer {
    open: Vec<Open>,
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
    root: Option<Value>,
}

/// How many values `value` holds, itself included.
fn count(value: &Value) -> usize {
    match value {
        Value::Sequence(items) => 1 + items.iter().map(count).sum::<usize>(),
        Value::Mapping(map) => 1 + map.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
        Value::Tagged(t) => 1 + count(&t.value),
        _ => 1,
    }
}

impl Composer {
    /// Adds a finished value to the collection being read, or makes it the root.
    fn add(&mut self, value: Value, anchor: usize, size: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), size));
        }
        match self.open.last_mut() {
            None => self.root = Some(value),
            Some(Open::Sequence { items, .. }) => items.push(value),
            Some(Open::Mapping { map, key, .. }) => match key.take() {
                None => *key = Some(value),
                // A repeated key: the later value wins, as in PyYAML.
                Some(k) => {
                    map.insert(k, value);
                }
            },
        }
    }

    fn grow(&mut self, by: usize, marker: yaml_rust2::scanner::Marker) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(by);
        if self.nodes > MAX_NODES {
            return Err(YamlError::at(
                marker,
                format!(
                    "the document expands to more than {MAX_NODES} values (aliases repeated too often)"
                ),
            ));
        }
        Ok(())
    }

    fn on(&mut self, event: Event, marker: yaml_rust2::scanner::Marker) -> Result<(), YamlError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.grow(1, marker)?;
                let value = scalar(text, style, tag.as_ref());
                self.add(value, anchor, 1);
            }
            Event::Alias(anchor) => {
                let Some((value, size)) = self.anchors.get(&anchor).cloned() else {
                    return Err(YamlError::at(
                        marker,
                        "an alias refers to a node that is not complete (a recursive alias)",
                    ));
                };
                self.grow(size, marker)?;
                self.add(value, 0, size);
            }
            Event::SequenceStart(anchor, tag) => {
                self.open_collection(marker)?;
                self.open.push(Open::Sequence {
                    items: Vec::new(),
                    anchor,
                    tag: collection_tag(tag.as_ref()),
                });
            }
            Event::MappingStart(anchor, tag) => {
                self.open_collection(marker)?;
                self.open.push(Open::Mapping {
                    map: Mapping::new(),
                    key: None,
                    anchor,
                    tag: collection_tag(tag.as_ref()),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(marker)?,
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn open_collection(&mut self, marker: yaml_rust2::scanner::Marker) -> Result<(), YamlError> {
        if self.open.len() >= MAX_DEPTH {
            return Err(YamlError::at(
                marker,
                format!("collections nest more than {MAX_DEPTH} deep"),
            ));
        }
        self.grow(1, marker)
    }

    fn close(&mut self, marker: yaml_rust2::scanner::Marker) -> Result<(), YamlError> {
        let (value, anchor, tag) = match self.open.pop() {
            Some(Open::Sequence { items, anchor, tag }) => (Value::Sequence(items), anchor, tag),
            Some(Open::Mapping {
                mut map,
                key,
                anchor,
                tag,
            }) => {
                if let Some(key) = key {
                    map.insert(key, Value::Null);
                }
                (Value::Mapping(map), anchor, tag)
            }
            None => return Err(YamlError::at(marker, "a collection ends that never began")),
        };
        let value = match tag {
            Some(tag) => Value::Tagged(Box::new(TaggedValue { tag, value })),
            None => value,
        };
        let size = if anchor != 0 { count(&value) } else { 0 };
        self.add(value, anchor, size);
        Ok(())
    }
}

/// A collection's own tag, unless it is a core one (`!!map`, `!!seq`).
fn collection_tag(tag: Option<&yaml_rust2::parser::Tag>) -> Option<Tag> {
    tag.filter(|t| core_tag(t).is_none()).and_then(custom_tag)
}

/// Parses one YAML document the way PyYAML's safe loader types it. An empty
/// text is `null`; merge keys (`<<`) are applied.
pub fn parse(text: &str) -> Result<Value, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut composer = Composer::default();
    let mut documents = 0;
    loop {
        let (event, marker) = parser.next_token().map_err(|e| YamlError {
            line: Some(e.marker().line()),
            column: Some(e.marker().col()),
            message: e.info().to_owned(),
        })?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError::at(
                        marker,
                        "more than one document (`---`) in the file; a profile is one document",
                    ));
                }
            }
            other => composer.on(other, marker)?,
        }
    }
    let mut value = composer.root.unwrap_or(Value::Null);
    value.apply_merge().map_err(|e| YamlError {
        line: None,
        column: None,
        message: format!("a merge key (<<) cannot be applied: {e}"),
    })?;
    Ok(value)
}

/// Why a value cannot be written as YAML.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct WriteError(String);

/// Writes `value` as block-style YAML that PyYAML and serde_yaml both read
/// back as `value`. Strings either reader would take for something else
/// (`yes`, `off`, `3_600`, `010`, `1:30`, `1e3`, `null`) come out quoted;
/// lists of plain scalars are written on one line (`extension: [csv, txt]`).
///
/// (serde_yaml's writer quotes only what YAML 1.2 reads differently, so a
/// string `yes` saved by it would be `true` to the original.)
pub fn to_string(value: &Value) -> Result<String, WriteError> {
    let mut out = String::new();
    match value {
        Value::Mapping(map) if !map.is_empty() => write_mapping(&mut out, map, 0)?,
        Value::Sequence(items) if !items.is_empty() && !fits_one_line(items) => {
            write_sequence(&mut out, items, 0)?;
        }
        other => {
            out.push_str(&inline(other)?);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Whether a string may be written without quotes: both readers read it
/// back as the same text, in a block or a flow collection.
fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let ambiguous_start = first.is_ascii_digit() || "+-.".contains(first);
    let keyword = matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "~"
    );
    !ambiguous_start
        && !keyword
        && s.parse::<f64>().is_err()
        && !plain_is_not_text(s)
        && !"!&*?|>'\"%@`#{}[],:=<".contains(first)
        && !s.starts_with(char::is_whitespace)
        && !s.ends_with(char::is_whitespace)
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !s.contains(['{', '}', '[', ']', ','])
        && !s
            .chars()
            .any(|c| c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}')
}

/// Whether `c` must be written as an escape: YAML's non-printable
/// characters (C0 and C1 controls, DEL, U+FFFE, U+FFFF), line breaks
/// (`\n`, `\r`, NEL, U+2028, U+2029), which a reader would fold, and the
/// byte-order mark.
fn needs_escape(c: char) -> bool {
    let printable = c == '\t'
        || ('\u{20}'..='\u{7e}').contains(&c)
        || ('\u{a0}'..='\u{d7ff}').contains(&c)
        || ('\u{e000}'..='\u{fffd}').contains(&c)
        || c >= '\u{10000}';
    !printable || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// `s` as a YAML double-quoted scalar, every character that needs it escaped.
fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if needs_escape(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A string in the plainest form both readers take for that same text;
/// inside a one-line list (`flow`) only simple words stay unquoted.
fn string_text(s: &str, flow: bool) -> String {
    let simple = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || "_./\\-+@$%&()".contains(c))
    };
    if s.chars().any(needs_escape) {
        double_quoted(s)
    } else if plain_is_safe(s) && (!flow || simple(s)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// A float as both readers read it back: a dot, and a signed exponent.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    let text = format!("{f:?}");
    match text.split_once('e') {
        Some((mantissa, exponent)) => {
            let mantissa = if mantissa.contains('.') {
                mantissa.to_owned()
            } else {
                format!("{mantissa}.0")
            };
            let exponent = if exponent.starts_with('-') {
                exponent.to_owned()
            } else {
                format!("+{exponent}")
            };
            format!("{mantissa}e{exponent}")
        }
        None if text.contains('.') => text,
        None => format!("{text}.0"),
    }
}

/// A scalar, or an empty or one-line collection, as inline text (`flow`:
/// inside a one-line list).
fn inline(value: &Value) -> Result<String, WriteError> {
    inline_in(value, false)
}

fn inline_in(value: &Value, flow: bool) -> Result<String, WriteError> {
    Ok(match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => float_text(f),
            _ => n.to_string(),
        },
        Value::String(s) => string_text(s, flow),
        Value::Sequence(items) => {
            let items: Result<Vec<String>, WriteError> =
                items.iter().map(|item| inline_in(item, true)).collect();
            format!("[{}]", items?.join(", "))
        }
        Value::Mapping(map) if map.is_empty() => "{}".to_owned(),
        Value::Mapping(_) => {
            return Err(WriteError(
                "a mapping inside a one-line list cannot be written".to_owned(),
            ));
        }
        Value::Tagged(tagged) => format!(
            "{} {}",
            tag_text(&tagged.tag)?,
            inline_in(&tagged.value, flow)?
        ),
    })
}

fn tag_text(tag: &Tag) -> Result<String, WriteError> {
    let text = tag.to_string();
    let name = text.trim_start_matches('!');
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
    {
        return Err(WriteError(format!(
            "the YAML tag `{text}` cannot be written back"
        )));
    }
    Ok(format!("!{name}"))
}

/// Whether a list is written on one line: it holds only scalars.
fn fits_one_line(items: &[Value]) -> bool {
    items.iter().all(|v| {
        matches!(
            v,
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)
        ) || matches!(v, Value::Sequence(s) if s.is_empty())
            || matches!(v, Value::Mapping(m) if m.is_empty())
    })
}

fn indent(out: &mut String, depth: usize) {
    out.extend(std::iter::repeat_n("  ", depth));
}

/// Writes what follows `key:` or `-`: inline after a space, or a block on
/// the next lines.
fn write_nested(out: &mut String, value: &Value, depth: usize) -> Result<(), WriteError> {
    let (tag, inner) = match value {
        Value::Tagged(t) => (Some(tag_text(&t.tag)?), &t.value),
        other => (None, other),
    };
    let block = match inner {
        Value::Mapping(map) => !map.is_empty(),
        Value::Sequence(items) => !fits_one_line(items),
        _ => false,
    };
    if !block {
        out.push(' ');
        out.push_str(&inline(value)?);
        out.push('\n');
        return Ok(());
    }
    if let Some(tag) = tag {
        out.push(' ');
        out.push_str(&tag);
    }
    out.push('\n');
    match inner {
        Value::Mapping(map) => write_mapping(out, map, depth + 1),
        Value::Sequence(items) => write_sequence(out, items, depth + 1),
        _ => Ok(()),
    }
}

fn write_mapping(out: &mut String, map: &Mapping, depth: usize) -> Result<(), WriteError> {
    for (key, value) in map {
        let key_text = match key {
            Value::Mapping(_) | Value::Sequence(_) => {
                return Err(WriteError(
                    "a key that is a list or a mapping cannot be written".to_owned(),
                ));
            }
            other => inline(other)?,
        };
        indent(out, depth);
        // YAML limits a simple key to 1024 characters; a longer one is
        // written as an explicit `? key` entry.
        if key_text.chars().count() > 1000 {
            out.push_str("? ");
            out.push_str(&key_text);
            out.push('\n');
            indent(out, depth);
        } else {
            out.push_str(&key_text);
        }
        out.push(':');
        write_nested(out, value, depth)?;
    }
    Ok(())
}

fn write_sequence(out: &mut String, items: &[Value], depth: usize) -> Result<(), WriteError> {
    for item in items {
        indent(out, depth);
        out.push('-');
        write_nested(out, item, depth)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzzer: a key over YAML's 1,024-character limit for
    /// simple keys was written as one, and the saved file did not load.
    #[test]
    fn a_key_longer_than_a_simple_key_may_be_is_written_so_that_it_loads() {
        for key in ["k".repeat(1500), "\u{16}".repeat(400)] {
            let mut map = Mapping::new();
            map.insert(Value::String(key.clone()), Value::from("v"));
            let value = Value::Mapping(map);
            let text = to_string(&value).unwrap();
            assert_eq!(parse(&text).unwrap(), value, "{text}");
        }
    }

    /// Found by the fuzzer: `f -` was written plain inside a one-line list,
    /// where a reader takes `-,` for a broken entry.
    #[test]
    fn list_items_that_are_not_simple_words_are_quoted_in_one_line_lists() {
        let value = parse("a:\n - f -\n -\n - csv\n - x, y\n").unwrap();
        let text = to_string(&value).unwrap();
        assert_eq!(parse(&text).unwrap(), value, "{text}");
        assert!(text.contains("[csv") || text.contains(", csv"), "{text}");
    }

    /// Found by the fuzzer: the non-specific tag `!` made an empty serde_yaml
    /// tag, which panics.
    #[test]
    fn the_non_specific_tag_reads_as_text() {
        assert_eq!(parse("a: ! 12").unwrap()["a"], Value::from("12"));
        assert!(parse("a: ! [1]").unwrap()["a"].is_sequence());
        assert!(parse("! {a: 1}").unwrap().is_mapping());
    }

    #[test]
    fn plain_scalars_are_typed_as_pyyaml_types_them() {
        assert_eq!(resolve_plain("yes"), Value::Bool(true));
        assert_eq!(resolve_plain("Off"), Value::Bool(false));
        assert_eq!(resolve_plain("3_600"), Value::from(3600));
        assert_eq!(resolve_plain("010"), Value::from(8));
        assert_eq!(resolve_plain("1:30"), Value::from(90));
        assert_eq!(resolve_plain("0o17"), Value::from("0o17"));
        assert_eq!(resolve_plain("1e3"), Value::from("1e3"));
        assert_eq!(resolve_plain("~"), Value::Null);
    }
}
