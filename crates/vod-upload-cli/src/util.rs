//! Small helpers: sizes, masking, JSON output.

use std::io::Write;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * 1024 * 1024;

/// Parses `1048576`, `512K`, `512KiB`, `5M`, `5MiB`, `1G`, `1GiB` (binary units: OSS part
/// sizes are usually given in MiB).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a size in bytes (e.g. 1048576, 512KiB, 5MiB)"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => KIB,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => GIB,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use K, M or G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// `1.5 MiB`-style sizes for people.
pub fn human_bytes(n: u64) -> String {
    let f = n as f64;
    if n >= GIB {
        format!("{:.2} GiB", f / GIB as f64)
    } else if n >= MIB {
        format!("{:.1} MiB", f / MIB as f64)
    } else if n >= KIB {
        format!("{:.1} KiB", f / KIB as f64)
    } else {
        format!("{n} B")
    }
}

/// An identifier shown only by its first characters (AccessKey ids are not secret, but there
/// is no reason to print them whole either).
pub fn mask(id: &str) -> String {
    let shown: String = id.chars().take(4).collect();
    format!("{shown}****")
}

/// A JSON object whose keys keep the order they were added in (`"event"` first, as the
/// contract shows), without switching serde_json to `preserve_order` for the whole workspace.
#[derive(Default)]
pub struct Obj(Vec<(&'static str, serde_json::Value)>);

impl Obj {
    /// An object starting with `"event": event`.
    pub fn event(event: &str) -> Obj {
        Obj::default().put("event", event)
    }

    pub fn put(mut self, key: &'static str, value: impl serde::Serialize) -> Obj {
        self.set(key, value);
        self
    }

    pub fn set(&mut self, key: &'static str, value: impl serde::Serialize) {
        let v = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = v,
            None => self.0.push((key, v)),
        }
    }

    /// Writes the object as one line on stdout and flushes it, so a reader of a pipe sees it
    /// at once. A closed stdout is ignored: the upload itself must not fail because of it.
    pub fn emit(&self) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{self}");
        let _ = out.flush();
    }
}

impl std::fmt::Display for Obj {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            // A &str key always serializes.
            write!(f, "{}:{v}", serde_json::Value::from(*k))?;
        }
        f.write_str("}")
    }
}

/// Rounds seconds to milliseconds for output.
pub fn round_secs(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

/// MiB/s, for the summary.
pub fn mib_per_sec(bytes: u64, seconds: f64) -> Option<f64> {
    (seconds > 0.0).then(|| bytes as f64 / MIB as f64 / seconds)
}

/// Formats rows as an aligned text table (first row is the header).
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1048576"), Ok(MIB));
        assert_eq!(parse_size("512KiB"), Ok(512 * KIB));
        assert_eq!(parse_size("5M"), Ok(5 * MIB));
        assert_eq!(parse_size("1 GiB"), Ok(GIB));
        assert!(parse_size("abc").is_err());
        assert!(parse_size("5X").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn masking_hides_all_but_a_prefix() {
        assert_eq!(mask("LTAI5tABCDEFG"), "LTAI****");
        assert_eq!(mask("ab"), "ab****");
    }

    #[test]
    fn objects_keep_key_order() {
        let mut o = Obj::event("succeeded")
            .put("file", "a \"b\".mp4")
            .put("bytes", 3u64);
        o.set("event", "x");
        assert_eq!(
            o.to_string(),
            r#"{"event":"x","file":"a \"b\".mp4","bytes":3}"#
        );
        let v: serde_json::Value = serde_json::from_str(&o.to_string()).unwrap();
        assert_eq!(v["bytes"], 3);
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&[
            vec!["A".into(), "BB".into(), "C".into()],
            vec!["aaa".into(), "b".into(), "c".into()],
        ]);
        assert_eq!(t, "A    BB  C\naaa  b   c\n");
    }
}
