//! The CMDB's command side (issue 5): assets (`POST /api/v1/assets`,
//! `POST /api/v1/assets/{id}/commands`) and inventory imports (`POST /api/v1/imports`,
//! `itsm import assets`), each asset a stream of its own (`domain::asset`).

pub mod codec;
