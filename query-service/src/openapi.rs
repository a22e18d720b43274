//! The OpenAPI document of the query API, generated from the handlers and types.

use command_service::error::Problem;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::assets::{
    self, AssetHistoryEntry, AssetHistoryPage, AssetPage, AssetSummary, AssetView, ImpactTicket,
    ImpactView, ImpactedAsset, ImportRun, ImportRuns, LinkedTicket, RelationView, RelationsView,
    SourceView,
};
use crate::audit::{
    self, LastEventView, ReaderView, ReadersView, TicketAsOfView, TicketVerification,
    TokenReaderView,
};
use crate::history::{self, Change, HistoryEntry, HistoryPage};
use crate::live::{self, TicketChange};
use crate::queues::{self, QueueCounts, QueueOverview, StatusCounts};
use crate::read_model::TicketSummary;
use crate::search::{self, SearchHit, SearchResults};
use crate::sla::{
    self, ClockView, ComplianceRow, SegmentView, SlaView, TargetChangeView, ThresholdView,
};
use crate::ui;
use crate::view::{
    self, ArticleView, LinkView, MergeTarget, RelatedTicket, RequesterView, TicketView,
};
use crate::worklist::{self, WorklistPage};

/// The query API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ITSM query API",
        description = "Reads over the ticket projection. Every GET accepts `after=<consistency token>` (from a command's response) and then answers only once the read model reflects that command, or 503 with `Retry-After` after the configured wait (5 s by default). Unknown parameters are refused (422, named in `field`). Requesters see only their own tickets (others are 404), never internal notes. The CMDB reads (`/api/v1/assets…`, `/api/v1/imports`) are for every role but requester (403), and their `after` waits for the asset projection. Errors are RFC 9457 problem+json, German by default (`Accept-Language: en` for English).",
        version = "1"
    ),
    paths(
        worklist::list,
        view::show,
        history::show,
        queues::show,
        search::search,
        live::stream,
        sla::show,
        sla::compliance,
        audit::verify,
        audit::export,
        audit::readers,
        assets::list,
        assets::show,
        assets::history,
        assets::impact,
        assets::imports,
        ui::me,
    ),
    components(schemas(
        ui::Me,
        TicketSummary,
        WorklistPage,
        TicketView,
        RequesterView,
        RelatedTicket,
        MergeTarget,
        LinkView,
        ArticleView,
        HistoryPage,
        HistoryEntry,
        Change,
        QueueOverview,
        QueueCounts,
        StatusCounts,
        SearchResults,
        SearchHit,
        TicketChange,
        SlaView,
        ClockView,
        SegmentView,
        ThresholdView,
        TargetChangeView,
        ComplianceRow,
        TicketAsOfView,
        LastEventView,
        TicketVerification,
        ReadersView,
        ReaderView,
        TokenReaderView,
        AssetSummary,
        AssetPage,
        AssetView,
        SourceView,
        RelationView,
        RelationsView,
        LinkedTicket,
        AssetHistoryPage,
        AssetHistoryEntry,
        ImpactView,
        ImpactedAsset,
        ImpactTicket,
        ImportRuns,
        ImportRun,
        Problem,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "tickets", description = "Worklist, ticket view and timeline"),
        (name = "queues", description = "Open tickets per queue"),
        (name = "search", description = "Full-text search"),
        (name = "live", description = "Live updates (Server-Sent Events)"),
        (name = "reports", description = "Statistics from the projections (agents, supervisors, auditors)"),
        (name = "assets", description = "The CMDB: assets, their relations, history, impact and inventory imports (every role but requester)"),
        (name = "audit", description = "Auditors and administrators: past state, verification, export, past readers (every use is recorded)"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document (for merging with the command API's in an all-in-one server).
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty JSON with a trailing newline (the form checked in under `schemas/`).
pub fn document_json() -> String {
    let mut text = document().to_pretty_json().expect("OpenAPI serializes");
    text.push('\n');
    text
}
