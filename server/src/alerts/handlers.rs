//! `GET /api/v1/alerts/firings[?active=true&limit=N]`: the firings of the
//! alerts the user may see (their own and the Global ones), newest first.

use axum::extract::{Query, State};
use serde::Deserialize;

use super::store::{self, Firing};
use super::Alerts;
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    active: bool,
    #[serde(default)]
    limit: Option<i64>,
}

pub async fn firings(
    State(alerts): State<Alerts>,
    user: CurrentUser,
    Query(filter): Query<Filter>,
) -> Result<Json<Vec<Firing>>, ApiError> {
    let limit = filter.limit.unwrap_or(200).clamp(1, 1000);
    Ok(Json(
        store::firings(&alerts.db, user.id, filter.active, limit).await?,
    ))
}
