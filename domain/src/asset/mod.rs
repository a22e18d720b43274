//! The asset aggregate (issue 5): a device, software, licence or location in the CMDB, of a
//! class with typed attributes, moving through a lifecycle, related to other assets, and fed by
//! inventory sources. Pure, like the ticket aggregate: `decide` and `Asset::apply`.

pub mod class;
mod command;
mod decide;
mod error;
mod event;
pub mod import;
pub mod lifecycle;
mod state;
mod values;

#[cfg(test)]
mod tests;

pub use class::{AssetClassDefinition, AttributeDefinition, AttributeError, AttributeType};
pub use command::{AssetCommand, AssetContext, REASON_CHARS_MAX};
pub use decide::decide;
pub use error::AssetError;
pub use event::AssetEvent;
pub use import::{ImportCompleted, RejectedRow, SourceRuns, REJECTED_LISTED_MAX};
pub use lifecycle::{Lifecycle, TRANSITIONS};
pub use state::{Asset, SourceStatus};
pub use values::{
    AssetId, CoreField, InvalidSourceName, RelationType, SourceKey, SourceName,
    EXTERNAL_ID_CHARS_MAX, IMPORT_NAMESPACE,
};
