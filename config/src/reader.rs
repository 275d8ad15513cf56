//! Reading typed values out of a [`Section`], remembering what was used so
//! that everything else can be reported as unknown.

use crate::error::{ConfigError, Warning};
use crate::settings::{is_secret_key, KeyValue, Section};
use crate::values;

pub(crate) struct Reader<'a> {
    pub(crate) sec: &'a Section,
    pub(crate) path: String,
    used_keys: Vec<bool>,
    used_secs: Vec<bool>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(sec: &'a Section, path: impl Into<String>) -> Reader<'a> {
        Reader {
            sec,
            path: path.into(),
            used_keys: vec![false; sec.settings.len()],
            used_secs: vec![false; sec.sections.len()],
        }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The pair for `key` if it has a value (an empty assignment counts as
    /// absent); marks it used either way.
    pub(crate) fn kv(&mut self, key: &str) -> Option<&'a KeyValue> {
        let i = self.sec.settings.iter().position(|kv| kv.key == key)?;
        self.used_keys[i] = true;
        let kv = &self.sec.settings[i];
        kv.value.as_ref().map(|_| kv)
    }

    pub(crate) fn string(&mut self, key: &str) -> Option<String> {
        self.kv(key).and_then(|kv| kv.value.clone())
    }

    pub(crate) fn list(&mut self, key: &str) -> Option<Vec<String>> {
        self.kv(key)
            .and_then(|kv| kv.value.as_deref())
            .map(values::split_list)
    }

    pub(crate) fn parse<T>(
        &mut self,
        key: &str,
        f: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(kv) = self.kv(key) else {
            return Ok(None);
        };
        let v = kv.value.as_deref().unwrap_or_default();
        f(v).map(Some)
            .map_err(|message| self.value_error(kv, message))
    }

    pub(crate) fn value_error(&self, kv: &KeyValue, message: String) -> ConfigError {
        let message = if is_secret_key(&kv.key) {
            message
        } else {
            format!(
                "{message}; found '{}'",
                kv.value.as_deref().unwrap_or_default()
            )
        };
        ConfigError::Value {
            location: kv.location.clone(),
            key: self.key_path(&kv.key),
            message,
        }
    }

    pub(crate) fn bool(&mut self, key: &str, default: bool) -> Result<bool, ConfigError> {
        Ok(self.parse(key, values::parse_bool)?.unwrap_or(default))
    }

    pub(crate) fn u32(&mut self, key: &str, default: u32) -> Result<u32, ConfigError> {
        Ok(self.parse(key, values::parse_u32)?.unwrap_or(default))
    }

    /// Marks `key` used and, if it has a value, warns that vtid ignores it.
    pub(crate) fn unsupported(&mut self, key: &str, warnings: &mut Vec<Warning>) {
        if let Some(kv) = self.kv(key) {
            warnings.push(Warning::new(
                &kv.location,
                format!("'{}' is not supported by vtid; ignored", self.key_path(key)),
            ));
        }
    }

    /// Warns (with `why`) if `key` is set; the value is still used.
    pub(crate) fn warn_if_set(&mut self, key: &str, why: &str, warnings: &mut Vec<Warning>) {
        if let Some(i) = self.sec.settings.iter().position(|kv| kv.key == key) {
            let kv = &self.sec.settings[i];
            if kv.value.is_some() {
                warnings.push(Warning::new(
                    &kv.location,
                    format!("'{}': {why}", self.key_path(key)),
                ));
            }
        }
    }

    /// Subsections whose names satisfy `pred`, marked used.
    pub(crate) fn sections(&mut self, pred: impl Fn(&str) -> bool) -> Vec<&'a Section> {
        let mut out = Vec::new();
        for (i, s) in self.sec.sections.iter().enumerate() {
            if pred(&s.name) {
                self.used_secs[i] = true;
                out.push(s);
            }
        }
        out
    }

    /// Keys whose names satisfy `pred`, marked used (cleared ones skipped).
    pub(crate) fn keys(&mut self, pred: impl Fn(&str) -> bool) -> Vec<&'a KeyValue> {
        let mut out = Vec::new();
        for (i, kv) in self.sec.settings.iter().enumerate() {
            if pred(&kv.key) {
                self.used_keys[i] = true;
                if kv.value.is_some() {
                    out.push(kv);
                }
            }
        }
        out
    }

    /// Every key and subsection not used so far: (name, location, "setting"
    /// or "section"); marks them used.
    pub(crate) fn unused(&mut self) -> Vec<(String, &'a crate::error::Location, &'static str)> {
        let mut out = Vec::new();
        for (i, kv) in self.sec.settings.iter().enumerate() {
            if !self.used_keys[i] {
                self.used_keys[i] = true;
                out.push((kv.key.clone(), &kv.location, "setting"));
            }
        }
        for (i, s) in self.sec.sections.iter().enumerate() {
            if !self.used_secs[i] {
                self.used_secs[i] = true;
                out.push((s.name.clone(), &s.location, "section"));
            }
        }
        out
    }

    /// Warns about every key and subsection not used.
    pub(crate) fn finish(self, warnings: &mut Vec<Warning>) {
        for (kv, used) in self.sec.settings.iter().zip(&self.used_keys) {
            if !used {
                warnings.push(Warning::new(
                    &kv.location,
                    format!("unknown key '{}'; ignored", self.key_path(&kv.key)),
                ));
            }
        }
        for (s, used) in self.sec.sections.iter().zip(&self.used_secs) {
            if !used {
                warnings.push(Warning::new(
                    &s.location,
                    format!("unknown section '{}'; ignored", self.key_path(&s.name)),
                ));
            }
        }
    }
}
