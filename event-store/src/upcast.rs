//! Upcasting: old event versions are turned into the current one on read by pure JSON → JSON
//! functions (DESIGN §7). Stored events are never rewritten.

use serde_json::Value;

/// Turns `(event_type, from_version)` payloads into `from_version + 1`.
#[derive(Clone, Copy, Debug)]
pub struct Upcaster {
    pub event_type: &'static str,
    pub from_version: u32,
    pub upcast: fn(Value) -> Value,
}

/// Applies `upcasters` until no more applies; returns the final version and payload.
pub fn upcast(
    upcasters: &[Upcaster],
    event_type: &str,
    mut version: u32,
    mut payload: Value,
) -> (u32, Value) {
    while let Some(step) = upcasters
        .iter()
        .find(|step| step.event_type == event_type && step.from_version == version)
    {
        payload = (step.upcast)(payload);
        version += 1;
    }
    (version, payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn add_channel(mut payload: Value) -> Value {
        payload["channel"] = json!("api");
        payload
    }

    fn rename_kind(mut payload: Value) -> Value {
        let kind = payload
            .as_object_mut()
            .and_then(|object| object.remove("kind"));
        payload["ticket_type"] = kind.unwrap_or(Value::Null);
        payload
    }

    const STEPS: &[Upcaster] = &[
        Upcaster {
            event_type: "x.opened",
            from_version: 1,
            upcast: add_channel,
        },
        Upcaster {
            event_type: "x.opened",
            from_version: 2,
            upcast: rename_kind,
        },
    ];

    #[test]
    fn upcasters_chain_from_the_stored_version_to_the_newest() {
        let (version, payload) = upcast(STEPS, "x.opened", 1, json!({"kind": "incident"}));
        assert_eq!(version, 3);
        assert_eq!(
            payload,
            json!({"channel": "api", "ticket_type": "incident"})
        );
    }

    #[test]
    fn current_versions_and_other_types_pass_unchanged() {
        assert_eq!(
            upcast(STEPS, "x.opened", 3, json!({"a": 1})),
            (3, json!({"a": 1}))
        );
        assert_eq!(upcast(STEPS, "y.closed", 1, json!({})), (1, json!({})));
    }
}
