//! The server's integration tests, in one binary: one link instead of one
//! per file, and one copy of the helpers. Each module is one former test file.

mod common;

mod alert_cluster;
mod alert_evaluation;
mod alerts;
mod api_tokens;
mod audit;
mod auth;
mod callbacks;
mod centralize_content;
mod centralize_join;
mod cluster;
mod connections;
mod content;
mod db_servers;
mod fleet_admin;
mod flush_plan;
mod handoff;
mod hostile_input;
mod http_errors;
mod https;
mod investigations;
mod keepalive;
mod liveness;
mod login_security;
mod products;
mod provision;
mod queue;
mod queue_store;
mod routing;
mod silent_database;
mod takeover;
mod wake;
mod write_cancel;
