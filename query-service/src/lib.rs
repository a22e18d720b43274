//! The query service: HTTP read API over the projections.
