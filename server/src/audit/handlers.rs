//! `GET /api/v1/audit`: the trail for admins, as JSON pages or as CSV.

use app::api::{AuditPage, UserRole};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::Audit;
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json};
use crate::openapi::{BadQuery, Signed};
use crate::trail::{self, Filter};

/// Most records in one page, and in one CSV download.
const MAX_PAGE: i64 = 1000;
const MAX_CSV: i64 = 100_000;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    target: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    limit: Option<i64>,
    offset: Option<i64>,
    format: Option<String>,
}

fn some(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "Matching records, newest first (JSON, or CSV with `format=csv`)", content((AuditPage = "application/json"), (String = "text/csv"))), Signed, BadQuery),
)]
pub async fn search(
    State(audit): State<Audit>,
    user: CurrentUser,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    if user.role != UserRole::Admin {
        return Err(ApiError::forbidden("only admins read the audit trail"));
    }
    if let Some(o) = &q.outcome {
        if !matches!(o.as_str(), "" | "ok" | "refused" | "failed") {
            return Err(ApiError::bad_request(
                "invalid_outcome",
                "outcome is ok, refused or failed",
            ));
        }
    }
    let filter = Filter {
        actor: some(q.actor),
        action: some(q.action),
        outcome: some(q.outcome),
        target: some(q.target),
        since: q.since,
        until: q.until,
    };
    let offset = q.offset.unwrap_or(0).max(0);
    if q.format.as_deref() == Some("csv") {
        let (entries, _) = trail::search(&audit.db, &filter, MAX_CSV, offset).await?;
        let mut out = String::from("id,at,actor,via,client,node,action,target,outcome,status\n");
        for e in entries {
            let fields = [
                e.id.to_string(),
                e.at.to_string(),
                e.actor,
                e.via,
                e.client,
                e.node,
                e.action,
                e.target,
                e.outcome,
                e.status.to_string(),
            ];
            out += &fields.map(|f| csv_field(&f)).join(",");
            out.push('\n');
        }
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"audit.csv\"",
                ),
            ],
            out,
        )
            .into_response());
    }
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let (entries, total) = trail::search(&audit.db, &filter, limit, offset).await?;
    Ok(Json(AuditPage { entries, total }).into_response())
}

/// A CSV field, quoted when it must be; a leading `=`, `+`, `-` or `@` is
/// escaped so a spreadsheet does not run it as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
    }
}
