//! Centralization of standalone nodes, as the API answers it.

use serde::{Deserialize, Serialize};

/// What centralizing one source did, or would do (its plan).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Outcome {
    /// The source node; false duplicates go into subfolders of its name.
    pub node: String,
    pub dry_run: bool,
    pub users_created: u64,
    pub folders_created: u64,
    /// Per tree: the Global one first, then by user.
    pub owners: Vec<OwnerOutcome>,
    pub products: ProductsOutcome,
}

impl Outcome {
    pub fn merged(&self) -> u64 {
        self.owners.iter().map(|o| o.merged).sum()
    }

    pub fn copied(&self) -> u64 {
        self.owners.iter().map(|o| o.copied).sum()
    }

    pub fn moved(&self) -> usize {
        self.owners.iter().map(|o| o.moved.len()).sum()
    }

    pub fn disabled(&self) -> usize {
        self.owners.iter().map(|o| o.disabled.len()).sum()
    }
}

/// One owner's tree: `Global` or a user name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OwnerOutcome {
    pub owner: String,
    /// Real duplicates, merged into the item already there.
    pub merged: u64,
    /// Copied with their own name to the same place.
    pub copied: u64,
    /// False duplicates moved into the source node's subfolder, by path.
    pub moved: Vec<String>,
    /// Alerts arriving disabled on a node where they were enabled, and why.
    pub disabled: Vec<String>,
}

/// Product records (resource synchronization).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProductsOutcome {
    /// Not in the cluster before.
    pub new: u64,
    /// The same UUID was there: one record, both histories.
    pub merged: u64,
    /// Without a reporting agent: `unmanaged` until one registers.
    pub unmanaged: u64,
}

/// A source's progress through the cluster's centralization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Source {
    pub node: String,
    /// `pending`, `running`, `done` or `failed`.
    pub status: String,
    pub error: Option<String>,
    /// When its node connected (ms): the order of centralization.
    pub connected_at: i64,
    pub attempts: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Records written of `total`, while it runs.
    pub done: i64,
    pub total: i64,
    /// The dry run made before anything was written.
    pub plan: Option<Outcome>,
    /// What the last finished run did.
    pub report: Option<Outcome>,
}

/// `GET /api/v1/centralization`: every source, in the order their nodes
/// connected.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Centralization {
    pub sources: Vec<Source>,
    /// Whether the caller may retry (admins), who also see the plans.
    #[serde(default)]
    pub can_retry: bool,
}

impl Centralization {
    fn named(&self, status: &str) -> Vec<String> {
        self.sources
            .iter()
            .filter(|s| s.status == status)
            .map(|s| s.node.clone())
            .collect()
    }

    /// The status line: what is still pending, or what failed.
    pub fn status_line(&self) -> Option<String> {
        let failed = self.named("failed");
        if !failed.is_empty() {
            return Some(format!(
                "Content centralization failed for the following {} node(s): {}",
                failed.len(),
                failed.join(", ")
            ));
        }
        let mut waiting = self.named("running");
        waiting.extend(self.named("pending"));
        (!waiting.is_empty()).then(|| {
            format!(
                "Content centralization is pending for the following {} node(s): {}",
                waiting.len(),
                waiting.join(", ")
            )
        })
    }
}

/// The sign-in refusal while this node's centralization runs.
pub const SIGN_IN_DURING_CENTRALIZATION: &str =
    "Content centralization is in progress. Please log in again in a moment.";

#[cfg(test)]
mod tests {
    use super::*;

    fn source(node: &str, status: &str) -> Source {
        Source {
            node: node.into(),
            status: status.into(),
            error: None,
            connected_at: 0,
            attempts: 0,
            started_at: None,
            finished_at: None,
            done: 0,
            total: 0,
            plan: None,
            report: None,
        }
    }

    #[test]
    fn the_status_line_names_failures_first_then_what_waits() {
        let mut c = Centralization {
            sources: vec![
                source("a", "done"),
                source("b", "pending"),
                source("c", "running"),
            ],
            can_retry: true,
        };
        assert_eq!(
            c.status_line().as_deref(),
            Some("Content centralization is pending for the following 2 node(s): c, b")
        );
        c.sources.push(source("d", "failed"));
        c.sources.push(source("e", "failed"));
        assert_eq!(
            c.status_line().as_deref(),
            Some("Content centralization failed for the following 2 node(s): d, e")
        );
        c.sources.retain(|s| s.status == "done");
        assert_eq!(c.status_line(), None);
    }
}
