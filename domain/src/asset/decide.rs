//! The asset rules: state + command + looked-up facts → events or a named refusal.

use std::collections::BTreeMap;

use serde_json::Value;

use super::class::AssetClassDefinition;
use super::command::{AssetCommand, AssetContext, REASON_CHARS_MAX};
use super::error::AssetError;
use super::event::AssetEvent;
use super::lifecycle::{allowed, Lifecycle};
use super::state::Asset;
use super::values::{AssetId, CoreField, RelationType, SourceName, EXTERNAL_ID_CHARS_MAX};

/// Decides `command` on `asset`.
pub fn decide(
    asset: &Asset,
    command: AssetCommand,
    context: &AssetContext<'_>,
) -> Result<Vec<AssetEvent>, AssetError> {
    if let AssetCommand::Register {
        id,
        class,
        fields,
        attributes,
        lifecycle,
        source,
    } = command
    {
        if asset.is_registered() {
            return Err(AssetError::AlreadyRegistered);
        }
        let definition = context
            .class
            .ok_or(AssetError::UnknownClass(class.clone()))?;
        if let Some(key) = &source {
            let length = key.external_id.trim().chars().count();
            if length == 0 || length > EXTERNAL_ID_CHARS_MAX {
                return Err(AssetError::InvalidExternalId);
            }
        }
        return Ok(vec![AssetEvent::Registered {
            id,
            class,
            fields: check_fields(fields)?,
            attributes: check_attributes(definition, attributes)?,
            lifecycle,
            source,
        }]);
    }
    let current = asset.lifecycle.ok_or(AssetError::NotRegistered)?;
    if current.is_terminal() {
        return Err(AssetError::Disposed);
    }
    match command {
        AssetCommand::Register { .. } => unreachable!("decided above"),
        AssetCommand::Update {
            fields,
            attributes,
            source,
        } => update(asset, context, fields, attributes, source),
        AssetCommand::ChangeLifecycle { to, reason } => change_lifecycle(current, to, reason),
        AssetCommand::Relate { relation, target } => relate(asset, context, relation, target),
        AssetCommand::Unrelate { relation, target } => {
            if !asset.relations.contains(&(relation, target)) {
                return Err(AssetError::RelationNotFound(relation));
            }
            Ok(vec![AssetEvent::Unrelated { relation, target }])
        }
        AssetCommand::FlagMissing {
            source,
            missed_runs,
        } => Ok(match asset.sources.get(&source) {
            None => return Err(AssetError::UnknownSource(source.as_str().to_owned())),
            Some(status) if status.missing => Vec::new(),
            Some(_) => vec![AssetEvent::MissingFlagged {
                source,
                missed_runs,
            }],
        }),
        AssetCommand::ClearMissing { source } => Ok(match asset.sources.get(&source) {
            Some(status) if status.missing => vec![AssetEvent::MissingCleared { source }],
            _ => Vec::new(),
        }),
    }
}

fn check_fields(
    fields: BTreeMap<CoreField, String>,
) -> Result<BTreeMap<CoreField, String>, AssetError> {
    let mut checked = BTreeMap::new();
    if !fields.contains_key(&CoreField::Name) {
        CoreField::Name.check(None)?;
    }
    for (field, value) in fields {
        if let Some(value) = field.check(Some(&value))? {
            checked.insert(field, value);
        }
    }
    Ok(checked)
}

fn check_attributes(
    class: &AssetClassDefinition,
    attributes: BTreeMap<String, Value>,
) -> Result<BTreeMap<String, Value>, AssetError> {
    let mut checked = BTreeMap::new();
    for (key, value) in attributes {
        checked.insert(key.clone(), class.check_value(&key, &value)?);
    }
    class.check_required(&checked)?;
    Ok(checked)
}

fn update(
    asset: &Asset,
    context: &AssetContext<'_>,
    fields: BTreeMap<CoreField, Option<String>>,
    attributes: BTreeMap<String, Option<Value>>,
    source: Option<SourceName>,
) -> Result<Vec<AssetEvent>, AssetError> {
    if let Some(source) = &source {
        if !asset.sources.contains_key(source) {
            return Err(AssetError::UnknownSource(source.as_str().to_owned()));
        }
    }
    let mut changed_fields = BTreeMap::new();
    for (field, value) in fields {
        let value = field.check(value.as_deref())?;
        if asset.field(field) != value.as_deref() {
            changed_fields.insert(field, value);
        }
    }
    let mut changed_attributes = BTreeMap::new();
    if !attributes.is_empty() {
        let class = context
            .class
            .ok_or_else(|| AssetError::UnknownClass(asset.class.clone()))?;
        let mut after = asset.attributes.clone();
        for (key, value) in attributes {
            let value = value
                .map(|value| class.check_value(&key, &value))
                .transpose()?;
            if asset.attributes.get(&key) != value.as_ref() {
                match &value {
                    Some(value) => after.insert(key.clone(), value.clone()),
                    None => after.remove(&key),
                };
                changed_attributes.insert(key, value);
            }
        }
        class.check_required(&after)?;
    }
    if changed_fields.is_empty() && changed_attributes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![AssetEvent::Updated {
        fields: changed_fields,
        attributes: changed_attributes,
        source,
    }])
}

fn change_lifecycle(
    from: Lifecycle,
    to: Lifecycle,
    reason: Option<String>,
) -> Result<Vec<AssetEvent>, AssetError> {
    if !allowed(from, to) {
        return Err(AssetError::TransitionNotAllowed { from, to });
    }
    let reason = reason
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    if reason
        .as_ref()
        .is_some_and(|text| text.chars().count() > REASON_CHARS_MAX)
    {
        return Err(AssetError::ReasonTooLong);
    }
    Ok(vec![AssetEvent::LifecycleChanged { from, to, reason }])
}

fn relate(
    asset: &Asset,
    context: &AssetContext<'_>,
    relation: RelationType,
    target: AssetId,
) -> Result<Vec<AssetEvent>, AssetError> {
    if asset.id == Some(target) {
        return Err(AssetError::RelationToItself);
    }
    match context.relation_target {
        None => return Err(AssetError::UnknownTarget),
        Some(state) if state.is_terminal() => return Err(AssetError::TargetDisposed),
        Some(_) => {}
    }
    if asset.relations.contains(&(relation, target)) {
        return Err(AssetError::RelationExists(relation));
    }
    Ok(vec![AssetEvent::Related { relation, target }])
}
