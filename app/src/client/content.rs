//! Content trees and investigations (`/api/v1/content…`,
//! `/api/v1/investigations/…`).

use gloo_net::http::Request;
use serde::Serialize;

use super::{done, json_of, send, send_with, ClientError, GRACE_MS};
use crate::api::content::{
    Deleted, Duplicate, Explain, Folder, FolderChange, Item, ItemChange, NewFolder, NewItem,
    RunItem, RunQuery, RunReply, Trees,
};
use crate::params::encode;

/// An investigation may run for as long as the node allows (10 s by
/// default), so its calls wait longer than the others.
const RUN_MS: u32 = 15_000;

fn body<T: Serialize>(value: &T) -> Result<String, ClientError> {
    serde_json::to_string(value).map_err(|e| ClientError::Network(e.to_string()))
}

/// The user's tree and the Global one.
pub async fn trees() -> Result<Trees, ClientError> {
    json_of(send(Request::get("/api/v1/content"), GRACE_MS).await?).await
}

pub async fn create_folder(new: &NewFolder) -> Result<Folder, ClientError> {
    let request = Request::post("/api/v1/content/folders");
    json_of(send_with(request, Some(body(new)?), GRACE_MS).await?).await
}

pub async fn change_folder(id: &str, change: &FolderChange) -> Result<Folder, ClientError> {
    let request = Request::patch(&format!("/api/v1/content/folders/{}", encode(id)));
    json_of(send_with(request, Some(body(change)?), GRACE_MS).await?).await
}

/// Deletes a folder; with `recursive`, what it holds too.
pub async fn delete_folder(id: &str, recursive: bool) -> Result<Deleted, ClientError> {
    let url = format!(
        "/api/v1/content/folders/{}?recursive={recursive}",
        encode(id)
    );
    json_of(send(Request::delete(&url), GRACE_MS).await?).await
}

pub async fn create_item(new: &NewItem) -> Result<Item, ClientError> {
    json_of(send_with(Request::post("/api/v1/content"), Some(body(new)?), GRACE_MS).await?).await
}

pub async fn change_item(id: &str, change: &ItemChange) -> Result<Item, ClientError> {
    let request = Request::patch(&format!("/api/v1/content/{}", encode(id)));
    json_of(send_with(request, Some(body(change)?), GRACE_MS).await?).await
}

pub async fn duplicate_item(id: &str, to: &Duplicate) -> Result<Item, ClientError> {
    let request = Request::post(&format!("/api/v1/content/{}/duplicate", encode(id)));
    json_of(send_with(request, Some(body(to)?), GRACE_MS).await?).await
}

pub async fn delete_item(id: &str) -> Result<(), ClientError> {
    let url = format!("/api/v1/content/{}", encode(id));
    done(send(Request::delete(&url), GRACE_MS).await?).await
}

/// One page of a saved item's rows.
pub async fn run_item(id: &str, run: &RunItem) -> Result<RunReply, ClientError> {
    let request = Request::post(&format!("/api/v1/content/{}/run", encode(id)));
    json_of(send_with(request, Some(body(run)?), RUN_MS).await?).await
}

/// One page of an unsaved query's rows.
pub async fn run_query(run: &RunQuery) -> Result<RunReply, ClientError> {
    let request = Request::post("/api/v1/investigations/run");
    json_of(send_with(request, Some(body(run)?), RUN_MS).await?).await
}

pub async fn explain(run: &RunQuery) -> Result<Explain, ClientError> {
    let request = Request::post("/api/v1/investigations/explain");
    json_of(send_with(request, Some(body(run)?), RUN_MS).await?).await
}

/// The address of a saved item's CSV export (a plain download link).
pub fn item_csv(id: &str, product: Option<&str>) -> String {
    let mut url = format!("/api/v1/content/{}/run?format=csv", encode(id));
    if let Some(p) = product {
        url.push_str(&format!("&product={}", encode(p)));
    }
    url
}

/// The address of an unsaved query's CSV export.
pub fn query_csv(query: &str, kind: &str, product: Option<&str>) -> String {
    let mut url = format!(
        "/api/v1/investigations/run?format=csv&query={}&kind={kind}",
        encode(query)
    );
    if let Some(p) = product {
        url.push_str(&format!("&product={}", encode(p)));
    }
    url
}

/// Enables or disables an alert on `node`.
pub async fn set_alert_enabled(id: &str, node: &str, on: bool) -> Result<(), ClientError> {
    let url = format!("/api/v1/content/{}/nodes/{}", encode(id), encode(node));
    let request = if on {
        Request::put(&url)
    } else {
        Request::delete(&url)
    };
    done(send(request, GRACE_MS).await?).await
}

/// Firings of the alerts the user may see: the open ones, or the latest.
pub async fn firings(active: bool) -> Result<Vec<crate::api::content::Firing>, ClientError> {
    let url = format!("/api/v1/alerts/firings?active={active}&limit=100");
    json_of(send(Request::get(&url), GRACE_MS).await?).await
}

/// Runs an alert's condition once, now, without saving it.
pub async fn test_alert(
    test: &crate::api::content::TestAlert,
) -> Result<crate::api::content::TestResult, ClientError> {
    let request = Request::post("/api/v1/alerts/test");
    json_of(send_with(request, Some(body(test)?), RUN_MS).await?).await
}

/// Which node evaluates how many products for an alert.
pub async fn coverage(id: &str) -> Result<crate::api::content::Coverage, ClientError> {
    let url = format!("/api/v1/alerts/{}/coverage", encode(id));
    json_of(send(Request::get(&url), GRACE_MS).await?).await
}
