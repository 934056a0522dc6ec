//! Running investigations: a saved item (`POST /api/v1/content/{id}/run`)
//! or an unsaved query (`POST /api/v1/investigations/run`), one page as
//! JSON or every row as CSV (`?format=csv`), and `…/explain`.
//!
//! One node runs a few investigations at once (the rest are told to retry),
//! each within `investigation_timeout`; a page starts at most
//! [`MAX_OFFSET`] rows in (past that, the CSV export).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use app::api::content::{Column, Explain, ItemKind, RunItem, RunQuery, RunReply, SortOrder};
use query::sql::{self, Bindings, CompileError, Engine};
use query::{Checked, Type};

use super::handlers::visible_item;
use super::store::run::{self, Cell, Read};
use super::{query_kind, Content};
use crate::auth::CurrentUser;
use crate::cluster::now_ms;
use crate::error::{ApiError, Json, Query};
use crate::openapi::{BadBody, BadQuery, Missing, Signed};
use protocol::api::ErrorBody;

/// Rows a page may start at; deeper than that, export CSV.
pub const MAX_OFFSET: i64 = 100_000;

/// `?format=csv`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Format {
    #[serde(default)]
    format: Option<String>,
}

impl Format {
    fn csv(&self) -> Result<bool, ApiError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(false),
            Some("csv") => Ok(true),
            Some(_) => Err(ApiError::bad_request(
                "invalid_format",
                "format is json or csv",
            )),
        }
    }
}

/// One investigation about to run: what it asks and for whom.
struct Run {
    checked: Checked,
    me: String,
    product: Option<String>,
    page: u32,
}

impl Run {
    /// Sorts by one column instead of the query's own order.
    fn sorted(mut self, sort: Option<SortOrder>) -> Result<Run, ApiError> {
        if let Some(s) = sort {
            self.checked
                .sort_by(&s.column, s.descending)
                .map_err(|m| ApiError::bad_request("invalid_sort", m))?;
        }
        Ok(self)
    }

    fn new(
        text: &str,
        kind: ItemKind,
        user: &CurrentUser,
        page: u32,
        product: Option<String>,
    ) -> Result<Run, ApiError> {
        let checked = query::analyze(text, query_kind(kind))
            .map_err(|e| ApiError::bad_request("invalid_definition", e.to_string()))?;
        if let Some(p) = &product {
            if uuid::Uuid::parse_str(p).is_err() {
                return Err(ApiError::bad_request(
                    "invalid_product",
                    "product is a product's UUID",
                ));
            }
        }
        Ok(Run {
            checked,
            me: user.username.clone(),
            product: product.map(|p| p.to_ascii_lowercase()),
            page,
        })
    }

    fn bindings(&self) -> Bindings<'_> {
        Bindings {
            now_ms: now_ms(),
            me: &self.me,
            product: self.product.as_deref(),
        }
    }

    fn reads(&self) -> Vec<Read> {
        self.checked
            .columns()
            .iter()
            .map(|c| Read::of(c.ty))
            .collect()
    }

    fn columns(&self) -> Vec<Column> {
        self.checked
            .columns()
            .into_iter()
            .map(|c| Column {
                name: c.name.to_owned(),
                ty: c.ty.to_owned(),
            })
            .collect()
    }
}

fn compiled<T>(r: Result<T, CompileError>) -> Result<T, ApiError> {
    r.map_err(|CompileError::NeedsProduct| {
        ApiError::bad_request(
            "product_required",
            "this one-click investigation runs on a product: give its id as product",
        )
    })
}

impl Content {
    fn permit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.runs.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "this node is running as many investigations as it can; try again",
            )
            .retry_after(1)
        })
    }

    async fn page(&self, r: &Run) -> Result<RunReply, ApiError> {
        let limit = r.checked.limit;
        let offset = i64::from(r.page) * limit;
        if offset > MAX_OFFSET {
            return Err(ApiError::bad_request(
                "page_too_deep",
                format!("pages start at most {MAX_OFFSET} rows in; export CSV for more"),
            ));
        }
        let _permit = self.permit()?;
        let b = r.bindings();
        let rows = compiled(sql::rows(&r.checked, self.engine, &b, offset, limit))?;
        let total = compiled(sql::total(&r.checked, self.engine, &b))?;
        let (found, total) = run::page(&self.db, self.timeout, &rows, &total, &r.reads())
            .await
            .map_err(too_slow(self.timeout))?;
        Ok(RunReply {
            columns: r.columns(),
            rows: found
                .into_iter()
                .map(|row| row.into_iter().map(json).collect())
                .collect(),
            total,
            page: r.page,
            limit,
            canonical: query::canonical(&r.checked),
        })
    }

    /// Every row as CSV, streamed as the database hands them over.
    fn csv(&self, r: Run) -> Result<Response, ApiError> {
        let permit = self.permit()?;
        let b = r.bindings();
        let statement = compiled(sql::all(&r.checked, self.engine, &b, self.csv_max_rows))?;
        let types: Vec<Type> = column_types(&r.checked);
        let header = r
            .checked
            .columns()
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(",")
            + "\r\n";
        let reads = r.reads();
        let (tx, rx) = mpsc::channel(4);
        let content = self.clone();
        // The export may run longer than a page: six times the timeout.
        let limit = self.timeout * 6;
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = run::each(&content.db, limit, &statement, &reads, &tx).await {
                tracing::warn!(error = %e, "CSV export stopped");
                let _ = tx.send(Err("the export stopped".to_owned())).await;
            }
        });
        let chunks = futures_util::stream::unfold((rx, Some(header)), move |(mut rx, header)| {
            let types = types.clone();
            async move {
                if let Some(header) = header {
                    return Some((Ok(header.into_bytes()), (rx, None)));
                }
                let chunk = match rx.recv().await? {
                    Ok(rows) => {
                        let mut out = Vec::with_capacity(rows.len() * 64);
                        rows.iter().for_each(|row| csv_row(&mut out, row, &types));
                        Ok(out)
                    }
                    Err(e) => Err(std::io::Error::other(e)),
                };
                Some((chunk, (rx, None)))
            }
        });
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"investigation.csv\"",
                ),
            ],
            Body::from_stream(chunks),
        )
            .into_response())
    }
}

fn too_slow(limit: std::time::Duration) -> impl Fn(crate::db::StoreError) -> ApiError {
    move |e| match e {
        crate::db::StoreError::Timeout => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_slow",
            format!(
                "the investigation ran longer than {} s; narrow it (during last, where, limit)",
                limit.as_secs()
            ),
        ),
        // A statement PostgreSQL cancelled at the same limit.
        crate::db::StoreError::Other(sqlx::Error::Database(d))
            if d.code().as_deref() == Some("57014") =>
        {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_slow",
                format!(
                    "the investigation ran longer than {} s; narrow it",
                    limit.as_secs()
                ),
            )
        }
        other => other.into(),
    }
}

fn column_types(q: &Checked) -> Vec<Type> {
    match &q.shape {
        query::Shape::Rows(fields) => fields.iter().map(|f| f.ty).collect(),
        query::Shape::GroupCount(f) => vec![f.ty, Type::Int],
    }
}

fn json(cell: Cell) -> serde_json::Value {
    match cell {
        Cell::Null => serde_json::Value::Null,
        Cell::Text(s) => s.into(),
        Cell::Int(n) => n.into(),
        Cell::Bool(b) => b.into(),
    }
}

/// One CSV line (RFC 4180): times in UTC ISO 8601, durations as written in
/// queries, text quoted when it must be. A cell starting with `=`, `+`,
/// `-` or `@` gets a leading `'`, so a spreadsheet never runs it.
fn csv_row(out: &mut Vec<u8>, row: &[Cell], types: &[Type]) {
    for (i, (cell, ty)) in row.iter().zip(types).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let text = match (cell, ty) {
            (Cell::Null, _) => continue,
            (Cell::Int(ms), Type::Timestamp) => query::time::format_timestamp(*ms),
            (Cell::Int(ms), Type::Duration) => query::time::format_duration(*ms),
            (Cell::Int(n), _) => n.to_string(),
            (Cell::Bool(b), _) => b.to_string(),
            (Cell::Text(s), _) => s.clone(),
        };
        let guarded = matches!(text.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@'))
            && matches!(cell, Cell::Text(_));
        if guarded || text.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            if guarded {
                out.push(b'\'');
            }
            out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(text.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// `POST /api/v1/content/{id}/run[?format=csv]`: a saved item the user may
/// see (their own, or a Global one).
#[utoipa::path(
    post,
    path = "/api/v1/content/{id}/run",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "investigation id")),
    responses((status = 200, description = "A page of results (JSON), or all rows (`format=csv`)", content((RunReply = "application/json"), (String = "text/csv"))), Signed, BadBody, BadQuery, Missing, (status = 503, description = "`timeout`: over `investigation_timeout`", body = ErrorBody)),
)]
pub async fn run_item(
    State(content): State<Content>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(format): Query<Format>,
    Json(body): Json<RunItem>,
) -> Result<Response, ApiError> {
    let item = visible_item(&content, &user, &id).await?;
    let kind = ItemKind::parse(&item.kind).unwrap_or_default();
    let run =
        Run::new(&item.definition, kind, &user, body.page, body.product)?.sorted(body.sort)?;
    if format.csv()? {
        return content.csv(run);
    }
    Ok(Json(content.page(&run).await?).into_response())
}

/// `POST /api/v1/investigations/run[?format=csv]`: an unsaved query.
#[utoipa::path(
    post,
    path = "/api/v1/investigations/run",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "A page of results (JSON), or all rows (`format=csv`)", content((RunReply = "application/json"), (String = "text/csv"))), Signed, BadBody, BadQuery),
)]
pub async fn run_query(
    State(content): State<Content>,
    user: CurrentUser,
    Query(format): Query<Format>,
    Json(body): Json<RunQuery>,
) -> Result<Response, ApiError> {
    let run =
        Run::new(&body.query, body.kind, &user, body.page, body.product)?.sorted(body.sort)?;
    if format.csv()? {
        return content.csv(run);
    }
    Ok(Json(content.page(&run).await?).into_response())
}

/// `GET /api/v1/content/{id}/run?format=csv[&product=…]`: the CSV export
/// of a saved item as a plain link (a download needs no script).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportItem {
    format: Option<String>,
    product: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/content/{id}/run",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "investigation id")),
    responses((status = 200, description = "All rows as CSV", body = String, content_type = "text/csv"), Signed, BadQuery, Missing),
)]
pub async fn export_item(
    State(content): State<Content>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<ExportItem>,
) -> Result<Response, ApiError> {
    let item = visible_item(&content, &user, &id).await?;
    csv_only(q.format.as_deref())?;
    let kind = ItemKind::parse(&item.kind).unwrap_or_default();
    content.csv(Run::new(&item.definition, kind, &user, 0, q.product)?)
}

/// `GET /api/v1/investigations/run?format=csv&query=…[&kind=…&product=…]`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    format: Option<String>,
    query: String,
    #[serde(default)]
    kind: Option<String>,
    product: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/investigations/run",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "All rows as CSV", body = String, content_type = "text/csv"), Signed, BadQuery),
)]
pub async fn export_query(
    State(content): State<Content>,
    user: CurrentUser,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    csv_only(q.format.as_deref())?;
    let kind = match q.kind.as_deref() {
        None => ItemKind::Investigation,
        Some(k) => ItemKind::parse(k).ok_or_else(|| {
            ApiError::bad_request("invalid_kind", "kind is investigation or one_click")
        })?,
    };
    content.csv(Run::new(&q.query, kind, &user, 0, q.product)?)
}

fn csv_only(format: Option<&str>) -> Result<(), ApiError> {
    match format {
        Some("csv") => Ok(()),
        _ => Err(ApiError::bad_request(
            "invalid_format",
            "GET exports CSV (format=csv); POST runs one page as JSON",
        )),
    }
}

/// `POST /api/v1/investigations/explain`: the statement of the first page,
/// with placeholders, and the database's plan for it (not run).
#[utoipa::path(
    post,
    path = "/api/v1/investigations/explain",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "The query as parsed, and its SQL", body = Explain), Signed, BadBody),
)]
pub async fn explain(
    State(content): State<Content>,
    user: CurrentUser,
    Json(body): Json<RunQuery>,
) -> Result<Json<Explain>, ApiError> {
    let run = Run::new(&body.query, body.kind, &user, body.page, body.product)?;
    let b = run.bindings();
    let limit = run.checked.limit;
    let statement = compiled(sql::rows(
        &run.checked,
        content.engine,
        &b,
        i64::from(run.page) * limit,
        limit,
    ))?;
    let _permit = content.permit()?;
    let plan = run::plan(&content.db, &statement).await?;
    Ok(Json(Explain {
        canonical: query::canonical(&run.checked),
        engine: match content.engine {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
        .to_owned(),
        sql: statement.sql,
        plan,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        let mut out = Vec::new();
        let row = [
            Cell::Text("a,b".into()),
            Cell::Text("=cmd()".into()),
            Cell::Int(0),
            Cell::Null,
            Cell::Text("say \"hi\"".into()),
        ];
        let types = [
            Type::String,
            Type::String,
            Type::Timestamp,
            Type::Int,
            Type::String,
        ];
        csv_row(&mut out, &row, &types);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a,b\",\"'=cmd()\",1970-01-01T00:00:00Z,,\"say \"\"hi\"\"\"\r\n"
        );
    }
}
