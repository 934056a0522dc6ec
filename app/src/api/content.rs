//! Content: each user's folders of investigations, one-click investigations
//! and alerts, and the Global tree (`/api/v1/content…`,
//! `/api/v1/investigations/…`).

use serde::{Deserialize, Serialize};

/// Which tree: the signed-in user's own, or the Global one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    Mine,
    Global,
}

/// What an item is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    #[default]
    Investigation,
    OneClick,
    Alert,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Investigation => "investigation",
            Self::OneClick => "one_click",
            Self::Alert => "alert",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "investigation" => Self::Investigation,
            "one_click" => Self::OneClick,
            "alert" => Self::Alert,
            _ => return None,
        })
    }
}

/// A folder; `parent` is `None` at the top of its tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Folder {
    pub id: String,
    pub scope: Scope,
    pub parent: Option<String>,
    pub name: String,
}

/// An item; `folder` is `None` at the top of its tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Item {
    pub id: String,
    pub scope: Scope,
    pub folder: Option<String>,
    pub kind: ItemKind,
    pub name: String,
    /// As written.
    pub definition: String,
    /// The canonical form of the definition, and its SHA-256 (hex).
    pub canonical: String,
    pub hash: String,
    /// Unix milliseconds.
    pub updated_at: i64,
    pub updated_by: String,
    /// An alert's condition and the nodes it is enabled on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertInfo>,
}

/// How bad a firing is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    #[default]
    Warning,
    Critical,
}

/// Who evaluates an alert: each node over the products it is home to
/// (`node`), or one node over the whole fleet (`fleet`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AlertScope {
    #[default]
    Node,
    Fleet,
}

/// What turns an investigation into an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    /// `rows > N`, `rows = 0`, `count > N` (any group of a `group by`
    /// query), or `per product` (one firing per product found).
    pub condition: String,
    /// How often it is evaluated, at least `10s`.
    pub period: String,
    /// How long the condition must hold before it fires.
    #[serde(default = "zero", rename = "for")]
    pub for_: String,
    /// How long it must be false before a firing clears.
    #[serde(default = "zero")]
    pub clear_for: String,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default)]
    pub scope: AlertScope,
    /// Webhook URLs each firing and clear is POSTed to (signed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<String>,
}

fn zero() -> String {
    "0s".into()
}

/// An alert as stored: its settings (in canonical spelling) and where it
/// is enabled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertInfo {
    pub spec: AlertSpec,
    pub enabled_on: Vec<String>,
    /// Each webhook's signing secret, for those who may change the alert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<WebhookSecret>,
}

/// The key a webhook receiver checks `X-Vigil-Signature` with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookSecret {
    pub url: String,
    pub secret: String,
}

/// `POST /api/v1/alerts/test`: an alert's condition run once, now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TestAlert {
    pub definition: String,
    pub alert: AlertSpec,
}

/// What a test of an alert found: the keys whose condition holds now (it
/// would fire for each once they held for `for`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TestResult {
    /// `fleet`, or the node whose products it was evaluated over.
    pub over: String,
    pub fires: Vec<WouldFire>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WouldFire {
    pub key: String,
    pub matched: i64,
}

/// `GET /api/v1/alerts/{id}/coverage`: which node evaluates how many
/// products, and how many no node does (their home node does not have the
/// alert enabled).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Coverage {
    pub scope: AlertScope,
    pub nodes: Vec<NodeCoverage>,
    pub uncovered: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NodeCoverage {
    pub node: String,
    pub operational: bool,
    pub products: i64,
}

/// A firing of an alert (`GET /api/v1/alerts/firings`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Firing {
    pub id: String,
    pub alert_id: String,
    pub alert: String,
    /// `''` for the whole query; a group's value or a product's id; for a
    /// `node` alert, after its home node and `/`.
    pub key: String,
    /// The node that opened it.
    pub node: String,
    pub severity: String,
    /// Unix milliseconds (database clock).
    pub started_at: i64,
    pub cleared_at: Option<i64>,
    pub matched: i64,
    /// A few of the rows that matched.
    pub samples: serde_json::Value,
}

/// `GET /api/v1/content`: the user's tree and the Global one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Trees {
    pub folders: Vec<Folder>,
    pub items: Vec<Item>,
    /// Whether the user may change the Global tree.
    pub manage_global: bool,
}

/// `POST /api/v1/content/folders`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewFolder {
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub parent: Option<String>,
    pub name: String,
}

/// `PATCH /api/v1/content/folders/{id}`: rename and/or move (within its
/// tree). `parent: null` moves it to the top.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FolderChange {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, with = "present", skip_serializing_if = "Option::is_none")]
    pub parent: Option<Option<String>>,
}

/// `DELETE /api/v1/content/folders/{id}`: what went with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Deleted {
    pub folders: u64,
    pub items: u64,
}

/// `POST /api/v1/content`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub folder: Option<String>,
    #[serde(default)]
    pub kind: ItemKind,
    pub name: String,
    pub definition: String,
    /// Required for an alert.
    #[serde(default)]
    pub alert: Option<AlertSpec>,
}

/// `PATCH /api/v1/content/{id}`: edit, rename, move (`folder: null` to the
/// top; `scope` to the other tree).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ItemChange {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub definition: Option<String>,
    #[serde(default)]
    pub scope: Option<Scope>,
    #[serde(default, with = "present", skip_serializing_if = "Option::is_none")]
    pub folder: Option<Option<String>>,
    /// An alert's new settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertSpec>,
}

/// `POST /api/v1/content/{id}/duplicate`: where the copy goes (by default
/// beside the original, named "… (copy)").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Duplicate {
    #[serde(default)]
    pub scope: Option<Scope>,
    #[serde(default, with = "present", skip_serializing_if = "Option::is_none")]
    pub folder: Option<Option<String>>,
    #[serde(default)]
    pub name: Option<String>,
}

/// A column to sort by instead of the query's own order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SortOrder {
    pub column: String,
    #[serde(default)]
    pub descending: bool,
}

/// `POST /api/v1/content/{id}/run`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunItem {
    /// 0-based page of `limit` rows.
    #[serde(default)]
    pub page: u32,
    /// The product a one-click investigation runs on.
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub sort: Option<SortOrder>,
}

/// `POST /api/v1/investigations/run` and `…/explain`: an unsaved query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    pub query: String,
    #[serde(default)]
    pub kind: ItemKind,
    #[serde(default)]
    pub page: u32,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub sort: Option<SortOrder>,
}

/// A column of the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Column {
    pub name: String,
    /// string, int, bool, enum, uuid, timestamp (Unix ms) or duration (ms).
    #[serde(rename = "type")]
    pub ty: String,
}

/// One page of a query's rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunReply {
    pub columns: Vec<Column>,
    /// One array per row, in the order of `columns`.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Rows (or groups) the query matches in all.
    pub total: i64,
    pub page: u32,
    pub limit: i64,
    pub canonical: String,
}

/// `POST /api/v1/investigations/explain`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Explain {
    pub canonical: String,
    /// `sqlite` or `postgres`.
    pub engine: String,
    /// The first page's statement, with placeholders.
    pub sql: String,
    /// The database's plan for it, one line per step.
    pub plan: Vec<String>,
}

/// Tells "absent" (`None`) from `null` (`Some(None)`) in a change.
mod present {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }

    pub fn serialize<S, T>(v: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        T: Serialize,
    {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }
}
