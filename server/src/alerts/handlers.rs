//! `GET /api/v1/alerts/firings[?active=true&limit=N]`: the firings of the
//! alerts the user may see (their own and the Global ones), newest first;
//! `POST /api/v1/alerts/test`: an alert's condition run once.

use axum::extract::State;
use serde::Deserialize;

use app::api::content::{AlertScope, Coverage, NodeCoverage, TestAlert, TestResult, WouldFire};
use axum::extract::Path;

use super::store::{self, Firing};
use super::Alerts;
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json, Query};
use crate::openapi::{BadBody, BadQuery, Missing, Signed};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    active: bool,
    #[serde(default)]
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts/firings",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "Firings", body = Vec<Firing>), Signed, BadQuery),
)]
pub async fn firings(
    State(alerts): State<Alerts>,
    user: CurrentUser,
    Query(filter): Query<Filter>,
) -> Result<Json<Vec<Firing>>, ApiError> {
    let limit = filter.limit.unwrap_or(200).clamp(1, 1000);
    let names = alerts.content.alert_names_seen_by(&user).await?;
    let ids: Vec<String> = names.keys().cloned().collect();
    let mut firings = store::firings(&alerts.db, &ids, filter.active, limit).await?;
    for f in &mut firings {
        f.alert = names.get(&f.alert_id).cloned().unwrap_or_default();
    }
    Ok(Json(firings))
}

/// `POST /api/v1/alerts/test`: what an alert would fire for now (its `for`
/// aside), without saving or writing anything.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/test",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "What the alert would fire now", body = TestResult), Signed, BadBody),
)]
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
    let fires = super::observe::dry_run(&alerts, &alert).await?;
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

/// `GET /api/v1/alerts/{id}/coverage`.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}/coverage",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "alert (content item) id")),
    responses((status = 200, description = "Which products the alert covers", body = Coverage), Signed, Missing),
)]
pub async fn coverage(
    State(alerts): State<Alerts>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Coverage>, ApiError> {
    let (rule, enabled) = alerts.content.alert_seen_by(&user, &id).await?;
    let per_home = super::observe::products_per_home(&alerts).await?;
    let nodes = alerts.nodes.summaries().await?;
    let up: Vec<&str> = nodes
        .iter()
        .filter(|n| n.operational)
        .map(|n| n.name.as_str())
        .collect();
    let down: Vec<&str> = nodes
        .iter()
        .filter(|n| !n.operational)
        .map(|n| n.name.as_str())
        .collect();
    let total: i64 = per_home.values().sum();
    let mut covered = 0;
    let mut out = Vec::new();
    for node in &enabled {
        let operational = up.contains(&node.as_str());
        let products = match (rule.scope, operational) {
            (_, false) => 0,
            // One of the enabled nodes evaluates the whole fleet.
            (AlertScope::Fleet, true) if covered == 0 => total,
            (AlertScope::Fleet, true) => 0,
            (AlertScope::Node, true) => super::evaluate::homes(node, &enabled, &up, &down)
                .iter()
                .map(|h| per_home.get(h).copied().unwrap_or(0))
                .sum(),
        };
        covered += products;
        out.push(NodeCoverage {
            node: node.clone(),
            operational,
            products,
        });
    }
    Ok(Json(Coverage {
        scope: rule.scope,
        nodes: out,
        uncovered: total - covered,
    }))
}
