//! Canonical JSON: objects with keys sorted bytewise, no whitespace. Independent of serde_json's
//! `preserve_order` feature, so the hash chain does not change when a dependency toggles it.

use serde_json::Value;

/// Writes `value` canonically into `out`.
pub fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                write(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

/// Writes a JSON string (serde_json's escaping: `"`, `\\` and control characters only).
pub fn write_str(text: &str, out: &mut Vec<u8>) {
    // Serializing a str cannot fail.
    serde_json::to_writer(&mut *out, text).expect("a string serializes");
}

fn write_scalar(value: &Value, out: &mut Vec<u8>) {
    // Serializing a scalar Value cannot fail.
    serde_json::to_writer(&mut *out, value).expect("scalar JSON serializes");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn canonical(value: serde_json::Value) -> String {
        let mut out = Vec::new();
        super::write(&value, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keys_are_sorted_at_every_depth_and_whitespace_is_dropped() {
        let value = json!({"b": 1, "a": {"z": [1, {"y": "ä", "x": null}], "c": true}});
        assert_eq!(
            canonical(value),
            r#"{"a":{"c":true,"z":[1,{"x":null,"y":"ä"}]},"b":1}"#
        );
    }
}
