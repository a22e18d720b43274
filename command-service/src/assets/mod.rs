//! The CMDB's command side (issue 5): assets (`POST /api/v1/assets`,
//! `POST /api/v1/assets/{id}/commands`) and inventory imports (`POST /api/v1/imports`,
//! `itsm import assets`), each asset a stream of its own (`domain::asset`).

pub mod codec;
pub mod import;
pub mod routes;
pub mod rows;
pub mod service;

use domain::asset::class::default_classes;
use domain::config::{ConfigCommand, ConfigName, Kind};
use uuid::Uuid;

use crate::auth::Actor;
use crate::error::ApiError;

/// Defines the default asset classes (`domain::asset::class::default_classes`) that have never
/// been defined; a class an administrator changed or retired stays as it is. Answers how many
/// it defined. Run by `itsm migrate` and at the start of `itsm serve`.
pub async fn seed_default_classes(pool: &sqlx::PgPool) -> Result<usize, ApiError> {
    let system = Actor {
        user: "system".to_owned(),
        roles: vec!["admin".to_owned()],
    };
    let configuration = crate::config::load(pool).await?;
    let correlation_id = Uuid::new_v4();
    let mut defined = 0;
    for (name, class) in default_classes() {
        if configuration
            .items
            .contains_key(&(Kind::AssetClass, name.to_owned()))
        {
            continue;
        }
        let name = ConfigName::try_from(name.to_owned()).map_err(ApiError::Config)?;
        let definition = serde_json::to_value(class).expect("classes serialize");
        let command = ConfigCommand::Define { definition };
        match crate::config::execute(
            pool,
            &system,
            Kind::AssetClass,
            &name,
            command,
            Some(0),
            correlation_id,
        )
        .await
        {
            Ok(_) => defined += 1,
            // Another process seeded it meanwhile.
            Err(ApiError::StaleVersion { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(defined)
}
