//! JSON text exactly as Python's `json.dumps(..., sort_keys=True, ensure_ascii=False)` writes it.
//!
//! pyftpsync writes its metadata with Python's `json` module, so byte-compatible metadata needs
//! Python's float `repr` (`1388577600.0`, `1e+16`), its separators (compact `,`/`:` or
//! `indent=4` with `", "`-less items), and keys sorted by code point.

use serde_json::{Map, Value};

/// Layout of the written document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `separators=(",", ":")`, no whitespace.
    Compact,
    /// `indent=4`.
    Indented,
}

/// Serialises `value` the way Python's json module would.
pub fn to_string(value: &Value, layout: Layout) -> String {
    let mut out = String::new();
    write_value(&mut out, value, layout, 0);
    out
}

fn write_value(out: &mut String, value: &Value, layout: Layout, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) if !n.is_f64() => out.push_str(&u.to_string()),
            (_, Some(i), _) if !n.is_f64() => out.push_str(&i.to_string()),
            (_, _, Some(f)) => out.push_str(&float_repr(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, layout, depth + 1);
                write_value(out, item, layout, depth + 1);
            }
            newline(out, layout, depth);
            out.push(']');
        }
        Value::Object(map) => write_object(out, map, layout, depth),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>, layout: Layout, depth: usize) {
    if map.is_empty() {
        out.push_str("{}");
        return;
    }
    // serde_json's Map is a BTreeMap: keys iterate in byte order, which for UTF-8 is code
    // point order, the order of Python's `sort_keys`.
    out.push('{');
    for (i, (key, item)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, layout, depth + 1);
        write_string(out, key);
        out.push_str(if layout == Layout::Compact { ":" } else { ": " });
        write_value(out, item, layout, depth + 1);
    }
    newline(out, layout, depth);
    out.push('}');
}

fn newline(out: &mut String, layout: Layout, depth: usize) {
    if layout == Layout::Indented {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("    ");
        }
    }
}

/// Python escapes exactly `"`, `\` and the C0 controls (short forms for \b \f \n \r \t,
/// `\u00xx` otherwise) when `ensure_ascii=False`; serde_json uses the same set and spelling.
fn write_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("strings always serialise"));
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed notation when the
/// decimal exponent is in `-4 < e <= 16`, scientific (`1e+16`, `1.5e-05`) otherwise.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let sci = format!("{:e}", x.abs()); // shortest round-trip digits, e.g. "1.7955e9"
    let (mantissa, exp) = sci.split_once('e').expect("LowerExp always has an exponent");
    let exp: i32 = exp.parse().expect("LowerExp exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let n = digits.len() as i32;
    let decpt = exp + 1; // value = 0.DIGITS * 10^decpt
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    if decpt <= -4 || decpt > 16 {
        let (head, tail) = digits.split_at(1);
        let frac = if tail.is_empty() { String::new() } else { format!(".{tail}") };
        let e = decpt - 1;
        return format!("{sign}{head}{frac}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    if decpt <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-decpt) as usize))
    } else if decpt < n {
        let (int, frac) = digits.split_at(decpt as usize);
        format!("{sign}{int}.{frac}")
    } else {
        format!("{sign}{digits}{}.0", "0".repeat((decpt - n) as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (1388577600.0, "1388577600.0"),
            (1795561483.760393, "1795561483.760393"),
            (1795566641.0200787, "1795566641.0200787"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e16, "1.5e+16"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123.456, "123.456"),
            (-2.5, "-2.5"),
            (1e100, "1e+100"),
            (0.1, "0.1"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(x), want, "{x:e}");
        }
    }

    #[test]
    fn compact_and_indented_layouts() {
        let v: Value = serde_json::from_str(r#"{"b":{"x":1.0,"y":null},"a":"é\n","c":{}}"#).unwrap();
        assert_eq!(to_string(&v, Layout::Compact), r#"{"a":"é\n","b":{"x":1.0,"y":null},"c":{}}"#);
        assert_eq!(
            to_string(&v, Layout::Indented),
            "{\n    \"a\": \"é\\n\",\n    \"b\": {\n        \"x\": 1.0,\n        \"y\": null\n    },\n    \"c\": {}\n}"
        );
    }
}
