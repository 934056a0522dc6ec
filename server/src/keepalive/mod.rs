//! The console's keep-alive: who is in the cluster, and the state string that
//! tells a console which of its views are out of date.

pub mod handlers;
pub mod store;
