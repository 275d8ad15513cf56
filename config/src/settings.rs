//! strongSwan's settings syntax (strongswan.conf / swanctl.conf): an untyped
//! tree of sections and key/value pairs.
//!
//! The grammar follows strongSwan's `settings_lexer.l`/`settings_parser.y`:
//!
//! ```text
//! statements := (section | setting | include)*
//! section    := NAME [":" ref ("," ref)*] "{" statements "}"
//! ref        := NAME ("." NAME)*
//! setting    := NAME "=" [value] (NEWLINE | "#" | "}" | EOF)
//! value      := (WORD | STRING)+     parts are joined with one space
//! include    := "include" PATTERN
//! ```
//!
//! * `NAME` is a run of characters other than `# { } : . , = "`, whitespace.
//! * `WORD` (in values) is a run of characters other than `# } "` and
//!   whitespace; so unquoted values may contain `=`, `{`, `,`, `:` and `.`,
//!   and runs of blanks between words collapse to one space.
//! * `STRING` is `"..."`; it may span lines and knows the escapes `\n`, `\r`,
//!   `\t`, `\` + newline (line continuation) and `\` + any other character
//!   (that character). A raw carriage return inside is dropped.
//! * `#` starts a comment anywhere outside a string. Newlines are only
//!   significant as the end of a value.
//! * `include PATTERN` (where the next non-blank is not `=`) reads the files
//!   matching the glob PATTERN, relative to the including file's directory,
//!   into the current section. The pattern ends at a blank, `#` or `}`; `\"`,
//!   `\#`, `\}` and `\ ` escape those characters, or it may be quoted.
//! * A section or key that appears again *extends* the first one: subsections
//!   merge recursively, a later value replaces the earlier one (which keeps
//!   its place in the order), references are added.
//! * `key =` with nothing after it is an empty assignment: it clears the
//!   value so the default applies (modelled as `value: None`).
//!
//! Differences from strongSwan: an included file must be balanced (it cannot
//! close a section opened by the file including it), includes nest at most
//! [`MAX_INCLUDE_DEPTH`] deep, and an include that matches no file is
//! reported as a warning rather than ignored silently.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::Zeroize;

use crate::error::{ConfigError, Location, Warning};
use crate::glob;

/// How deep `include` statements may nest.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Key names whose values are secret and never printed by `Debug`.
pub(crate) fn is_secret_key(key: &str) -> bool {
    key == "secret" || key == "pin"
}

/// One `key = value` pair.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value; `None` for an empty assignment (`key =`), which restores
    /// the default.
    pub value: Option<String>,
    /// Where the (last) assignment is.
    pub location: Location,
}

/// Values may be secrets (`secret = ...`): wiped when the tree is dropped.
impl Drop for KeyValue {
    fn drop(&mut self) {
        if let Some(v) = &mut self.value {
            v.zeroize();
        }
    }
}

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &dyn fmt::Debug = match &self.value {
            Some(_) if is_secret_key(&self.key) => &"<redacted>",
            v => v,
        };
        f.debug_struct("KeyValue")
            .field("key", &self.key)
            .field("value", value)
            .field("location", &format_args!("{}", self.location))
            .finish()
    }
}

/// A section: named, with key/value pairs and subsections in the order they
/// first appeared, and references to other sections (`name : a, b.c { }`).
/// The root of a file is a section with an empty name.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Section {
    /// The name (empty for the root).
    pub name: String,
    /// Where the section was first opened.
    pub location: Location,
    /// Absolute dotted names of the sections this one inherits from.
    pub references: Vec<String>,
    /// Key/value pairs, in order of first appearance; keys are unique.
    pub settings: Vec<KeyValue>,
    /// Subsections, in order of first appearance; names are unique.
    pub sections: Vec<Section>,
}

impl Section {
    /// An empty section.
    pub fn new(name: impl Into<String>, location: Location) -> Section {
        Section {
            name: name.into(),
            location,
            references: Vec::new(),
            settings: Vec::new(),
            sections: Vec::new(),
        }
    }

    /// The key/value pair for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&KeyValue> {
        self.settings.iter().find(|kv| kv.key == key)
    }

    /// The value of `key` if set and not cleared.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|kv| kv.value.as_deref())
    }

    /// The direct subsection `name`.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The subsection at a dotted path such as `connections.gw`.
    pub fn section_path(&self, path: &str) -> Option<&Section> {
        path.split('.')
            .try_fold(self, |sec, part| sec.section(part))
    }

    /// Sets `key`; an existing key keeps its place and gets the new value
    /// and location (strongSwan's override semantics).
    pub fn set(&mut self, key: impl Into<String>, value: Option<String>, location: Location) {
        let key = key.into();
        match self.settings.iter_mut().find(|kv| kv.key == key) {
            Some(kv) => {
                if let Some(old) = &mut kv.value {
                    old.zeroize();
                }
                kv.value = value;
                kv.location = location;
            }
            None => self.settings.push(KeyValue {
                key,
                value,
                location,
            }),
        }
    }

    /// The subsection `name`, created (at the end) if missing.
    pub fn section_mut(&mut self, name: &str, location: &Location) -> &mut Section {
        let idx = match self.sections.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.sections.push(Section::new(name, location.clone()));
                self.sections.len() - 1
            }
        };
        &mut self.sections[idx]
    }

    /// Adds a reference unless it is already there.
    pub fn add_reference(&mut self, name: impl Into<String>) {
        let name = name.into();
        if !self.references.contains(&name) {
            self.references.push(name);
        }
    }

    /// Extends this section with `other` as if `other`'s text followed this
    /// one's: values are replaced, subsections merged, references added.
    pub fn merge(&mut self, other: Section) {
        for r in other.references {
            self.add_reference(r);
        }
        for mut kv in other.settings {
            let key = std::mem::take(&mut kv.key);
            let value = kv.value.take();
            self.set(key, value, kv.location.clone());
        }
        for sec in other.sections {
            let loc = sec.location.clone();
            self.section_mut(&sec.name, &loc).merge(sec);
        }
    }

    /// Adds what `other` has and this section lacks (keys, and recursively
    /// subsections): the inheritance of references. A cleared key (`None`)
    /// here still shadows the inherited value.
    fn inherit(&mut self, other: Section) {
        for kv in other.settings {
            if self.get(&kv.key).is_none() {
                self.settings.push(kv);
            }
        }
        for sec in other.sections {
            match self.sections.iter_mut().find(|s| s.name == sec.name) {
                Some(mine) => mine.inherit(sec),
                None => self.sections.push(sec),
            }
        }
    }

    /// Returns a copy of this tree (taken as the root that references are
    /// relative to) in which every section with references has inherited the
    /// keys and subsections of the sections it references, left to right,
    /// after its own, recursively. References to missing sections give a
    /// warning; reference cycles an error.
    pub fn resolve_references(&self, warnings: &mut Vec<Warning>) -> Result<Section, ConfigError> {
        let mut stack = Vec::new();
        resolve(self, self, &mut stack, warnings)
    }

    /// Whether any section in this tree references the absolute `path`.
    pub(crate) fn is_referenced(&self, path: &str) -> bool {
        self.references
            .iter()
            .any(|r| r == path || r.starts_with(&format!("{path}.")))
            || self.sections.iter().any(|s| s.is_referenced(path))
    }
}

fn resolve(
    root: &Section,
    sec: &Section,
    stack: &mut Vec<String>,
    warnings: &mut Vec<Warning>,
) -> Result<Section, ConfigError> {
    let mut out = Section::new(sec.name.clone(), sec.location.clone());
    out.settings = sec.settings.clone();
    for sub in &sec.sections {
        out.sections.push(resolve(root, sub, stack, warnings)?);
    }
    for r in &sec.references {
        if stack.iter().any(|s| s == r) || stack.len() > 32 {
            return Err(ConfigError::invalid(
                &sec.location,
                format!("reference cycle through section '{r}'"),
            ));
        }
        match root.section_path(r) {
            Some(target) => {
                stack.push(r.clone());
                let resolved = resolve(root, target, stack, warnings)?;
                stack.pop();
                out.inherit(resolved);
            }
            None => warnings.push(Warning::new(
                &sec.location,
                format!(
                    "section '{}' references '{r}', which does not exist",
                    sec.name
                ),
            )),
        }
    }
    Ok(out)
}

/// Prints the section's contents (not its own header) in the settings
/// syntax; values are always quoted so any string prints and parses back.
impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_body(self, f, 0)
    }
}

fn write_body(sec: &Section, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
    let indent = "\t".repeat(depth);
    for kv in &sec.settings {
        match &kv.value {
            Some(v) => writeln!(f, "{indent}{} = {}", kv.key, quote(v))?,
            None => writeln!(f, "{indent}{} =", kv.key)?,
        }
    }
    for sub in &sec.sections {
        write!(f, "{indent}{}", sub.name)?;
        if !sub.references.is_empty() {
            write!(f, " : {}", sub.references.join(", "))?;
        }
        writeln!(f, " {{")?;
        write_body(sub, f, depth + 1)?;
        writeln!(f, "{indent}}}")?;
    }
    Ok(())
}

/// Quotes a value for the settings syntax.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `c` may appear in a section name or key.
pub fn is_name_char(c: char) -> bool {
    !matches!(
        c,
        '#' | '{' | '}' | ':' | '.' | ',' | '=' | '"' | '\r' | '\n' | '\t' | ' '
    )
}

/// Parses `text` (named `name` in locations; relative includes are based on
/// `name`'s directory) into a root section. Includes are read from the file
/// system.
pub fn parse_str(
    text: &str,
    name: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Section, ConfigError> {
    let file: Arc<str> = Arc::from(name);
    let mut root = Section::new(
        "",
        Location {
            file: file.clone(),
            line: 1,
            column: 1,
        },
    );
    let dir = Path::new(name)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut lexer = Lexer::new(text, file, dir);
    let mut ctx = Ctx { warnings, depth: 0 };
    lexer.body(&mut root, &mut ctx, false)?;
    Ok(root)
}

/// Reads and parses the file at `path` (with its includes). The text is
/// wiped once parsed (it holds the secrets).
pub fn parse_file(path: &Path, warnings: &mut Vec<Warning>) -> Result<Section, ConfigError> {
    let mut text = read(path)?;
    let r = parse_str(&text, &path.to_string_lossy(), warnings);
    text.zeroize();
    r
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

struct Ctx<'w> {
    warnings: &'w mut Vec<Warning>,
    depth: usize,
}

struct Lexer {
    chars: Vec<char>,
    i: usize,
    line: u32,
    column: u32,
    file: Arc<str>,
    dir: PathBuf,
}

impl Drop for Lexer {
    fn drop(&mut self) {
        self.chars.zeroize();
    }
}

fn describe(c: Option<char>) -> String {
    match c {
        None => "end of file".into(),
        Some('\n') => "end of line".into(),
        Some(c) if c.is_control() => format!("character U+{:04X}", c as u32),
        Some(c) => format!("'{c}'"),
    }
}

impl Lexer {
    fn new(text: &str, file: Arc<str>, dir: PathBuf) -> Lexer {
        // Sized once (a char per byte at most): growing would leave copies
        // of the text, secrets included, in freed memory.
        let mut chars = Vec::with_capacity(text.len());
        chars.extend(text.chars());
        Lexer {
            chars,
            i: 0,
            line: 1,
            column: 1,
            file,
            dir,
        }
    }

    fn loc(&self) -> Location {
        Location {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn err(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::syntax(self.loc(), message)
    }

    /// Skips blanks, newlines and comments.
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    self.bump();
                }
                '#' => self.skip_comment(),
                _ => break,
            }
        }
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.bump();
        }
    }

    /// Bytes (UTF-8) up to the end of the line: room for a value there.
    fn rest_of_line_len(&self) -> usize {
        self.chars
            .get(self.i..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&c| c != '\n')
            .map(|c| c.len_utf8())
            .sum()
    }

    /// Bytes (UTF-8) up to the closing quote of the string that starts
    /// here (after its opening quote): room for the string, escapes
    /// included.
    fn quoted_len(&self) -> usize {
        let rest = self.chars.get(self.i..).unwrap_or_default();
        let mut n = 0;
        let mut escaped = false;
        for &c in rest {
            if !escaped && c == '"' {
                break;
            }
            escaped = !escaped && c == '\\';
            n += c.len_utf8();
        }
        n
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
            self.bump();
        }
    }

    fn name(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek().filter(|&c| is_name_char(c)) {
            s.push(c);
            self.bump();
        }
        s
    }

    /// Statements until `}` (if `nested`) or end of input.
    fn body(
        &mut self,
        target: &mut Section,
        ctx: &mut Ctx<'_>,
        nested: bool,
    ) -> Result<(), ConfigError> {
        loop {
            self.skip_space();
            let start = self.loc();
            match self.peek() {
                None if nested => {
                    return Err(self.err("expected '}' to close the section, found end of file"))
                }
                None => return Ok(()),
                Some('}') if nested => {
                    self.bump();
                    return Ok(());
                }
                Some('"') => {
                    return Err(self.err(
                        "unexpected string: quoted strings are only allowed in values (after '=')",
                    ))
                }
                Some(c) if is_name_char(c) => {
                    let name = self.name();
                    if name == "include" && matches!(self.peek(), Some(' ' | '\t')) {
                        let save = (self.i, self.line, self.column);
                        self.skip_blanks();
                        if self.peek().is_some_and(|c| c != '=') {
                            self.include(target, ctx, &start)?;
                            continue;
                        }
                        (self.i, self.line, self.column) = save;
                    }
                    self.statement(name, start, target, ctx)?;
                }
                Some(c) => {
                    let what = if c == '}' {
                        "'}' without a section to close".to_string()
                    } else {
                        describe(Some(c))
                    };
                    return Err(self.err(format!("expected a key or section name, found {what}")));
                }
            }
        }
    }

    fn statement(
        &mut self,
        name: String,
        start: Location,
        target: &mut Section,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), ConfigError> {
        self.skip_space();
        match self.peek() {
            Some('=') => {
                self.bump();
                let value = self.value()?;
                target.set(name, value, start);
                Ok(())
            }
            Some('{') => {
                self.bump();
                let sec = target.section_mut(&name, &start);
                self.body(sec, ctx, true)
            }
            Some(':') => {
                self.bump();
                let refs = self.references()?;
                self.skip_space();
                if self.peek() != Some('{') {
                    return Err(self.err(format!(
                        "expected ',' or '{{' after the references of section '{name}', found {}",
                        describe(self.peek())
                    )));
                }
                self.bump();
                let sec = target.section_mut(&name, &start);
                for r in refs {
                    sec.add_reference(r);
                }
                self.body(sec, ctx, true)
            }
            c => Err(self.err(format!(
                "expected '=', '{{' or ':' after '{name}', found {}",
                describe(c)
            ))),
        }
    }

    fn references(&mut self) -> Result<Vec<String>, ConfigError> {
        let mut refs = Vec::new();
        loop {
            self.skip_space();
            let mut r = self.name();
            if r.is_empty() {
                return Err(self.err(format!(
                    "expected the name of a section to reference, found {}",
                    describe(self.peek())
                )));
            }
            while self.peek() == Some('.') {
                self.bump();
                let part = self.name();
                if part.is_empty() {
                    return Err(self.err(format!(
                        "expected a section name after '.', found {}",
                        describe(self.peek())
                    )));
                }
                r.push('.');
                r.push_str(&part);
            }
            refs.push(r);
            self.skip_space();
            if self.peek() == Some(',') {
                self.bump();
            } else {
                return Ok(refs);
            }
        }
    }

    /// The value after `=`, up to the end of the line, `#` or `}`.
    fn value(&mut self) -> Result<Option<String>, ConfigError> {
        let mut parts: Vec<String> = Vec::new();
        loop {
            self.skip_blanks();
            match self.peek() {
                None | Some('\n' | '#' | '}') => break,
                Some('"') => parts.push(self.string()?),
                Some(_) => {
                    let mut w = String::with_capacity(self.rest_of_line_len());
                    while let Some(c) = self
                        .peek()
                        .filter(|c| !matches!(c, '#' | '}' | '"' | '\r' | '\n' | '\t' | ' '))
                    {
                        w.push(c);
                        self.bump();
                    }
                    parts.push(w);
                }
            }
        }
        let v = if parts.is_empty() {
            None
        } else {
            Some(parts.join(" "))
        };
        // The value may be a secret: no copy left behind.
        parts.iter_mut().for_each(Zeroize::zeroize);
        Ok(v)
    }

    /// A quoted string, the opening quote being next.
    fn string(&mut self) -> Result<String, ConfigError> {
        let start = self.loc();
        let unterminated = || {
            ConfigError::syntax(
                start.clone(),
                "unterminated string: expected a closing '\"'",
            )
        };
        self.bump();
        let mut s = String::with_capacity(self.quoted_len());
        loop {
            match self.bump() {
                None => return Err(unterminated()),
                Some('"') => return Ok(s),
                Some('\r') => {}
                Some('\\') => match self.bump() {
                    None => return Err(unterminated()),
                    Some('n') => s.push('\n'),
                    Some('r') => s.push('\r'),
                    Some('t') => s.push('\t'),
                    Some('\n') => {}
                    Some('\r') if self.peek() == Some('\n') => {
                        self.bump();
                    }
                    Some(c) => s.push(c),
                },
                Some(c) => s.push(c),
            }
        }
    }

    fn include(
        &mut self,
        target: &mut Section,
        ctx: &mut Ctx<'_>,
        start: &Location,
    ) -> Result<(), ConfigError> {
        let mut pattern = String::new();
        loop {
            match self.peek() {
                None | Some('\n' | '\t' | ' ' | '#' | '}') => break,
                Some('\r') => {
                    self.bump();
                }
                Some('"') => {
                    pattern.push_str(&self.string()?);
                    break;
                }
                Some('\\') => {
                    self.bump();
                    match self.peek() {
                        Some(c @ ('"' | '#' | '}' | ' ')) => {
                            pattern.push(c);
                            self.bump();
                        }
                        _ => pattern.push('\\'),
                    }
                }
                Some(c) => {
                    pattern.push(c);
                    self.bump();
                }
            }
        }
        if pattern.is_empty() {
            ctx.warnings
                .push(Warning::new(start, "no include pattern specified, ignored"));
            return Ok(());
        }
        if ctx.depth >= MAX_INCLUDE_DEPTH {
            return Err(ConfigError::invalid(
                start,
                format!("includes nested more than {MAX_INCLUDE_DEPTH} deep (a cycle?)"),
            ));
        }
        let full = if Path::new(&pattern).is_absolute() {
            PathBuf::from(&pattern)
        } else {
            self.dir.join(&pattern)
        };
        let files = glob::expand(&full);
        if files.is_empty() {
            ctx.warnings.push(Warning::new(
                start,
                format!("include pattern '{}' matched no files", full.display()),
            ));
        }
        for path in files {
            if !path.is_file() {
                continue;
            }
            let mut text = read(&path)?;
            let name: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut sub = Lexer::new(&text, name, dir);
            text.zeroize();
            ctx.depth += 1;
            let res = sub.body(target, ctx, false);
            ctx.depth -= 1;
            res?;
        }
        Ok(())
    }
}
