//! `GET /api/v1/alerts/firings[?active=true&limit=N]`: the firings of the
//! alerts the user may see (their own and the Global ones), newest first;
//! `POST /api/v1/alerts/test`: an alert's condition run once.

use axum::extract::{Query, State};
use serde::Deserialize;

use app::api::content::{AlertScope, TestAlert, TestResult, WouldFire};

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

/// `POST /api/v1/alerts/test`: what an alert would fire for now (its `for`
/// aside), without saving or writing anything.
pub async fn test(
    State(alerts): State<Alerts>,
    user: CurrentUser,
    Json(body): Json<TestAlert>,
) -> Result<Json<TestResult>, ApiError> {
    let (_, rule) = crate::content::define_alert(&body.definition, &body.alert)?;
    let alert = crate::content::EnabledAlert {
        id: String::new(),
        name: "test".into(),
        definition: body.definition,
        rule,
        author: user.username.clone(),
        nodes: vec![alerts.me.to_string()],
        webhooks: Vec::new(),
    };
    let fires = super::evaluate::dry_run(&alerts, &alert).await?;
    Ok(Json(TestResult {
        over: match rule.scope {
            AlertScope::Fleet => "fleet".into(),
            AlertScope::Node => alerts.me.to_string(),
        },
        fires: fires
            .into_iter()
            .map(|(key, matched)| WouldFire { key, matched })
            .collect(),
    }))
}
