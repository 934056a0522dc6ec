//! A standalone node joins the cluster (seed 003, SPEC section 8): its
//! users and its content arrive in the cluster's database by the merge
//! rules, or a dry run shows what would.

use serde::Serialize;

use crate::content::centralize::{export, import, Report};
use crate::db::Db;

/// What centralizing one source did, or would do.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The source node, whose name subfolders of false duplicates take.
    pub node: String,
    pub dry_run: bool,
    pub users_created: u64,
    pub content: Report,
}

/// Centralizes the standalone database at `source_url` into `target`.
/// `node` names the source; by default the node that ran on it last.
pub async fn centralize(
    target: &Db,
    source_url: &str,
    node: Option<&str>,
    dry_run: bool,
) -> Result<Outcome, anyhow::Error> {
    let source = Db::connect(source_url).await?;
    let node = match node {
        Some(n) => n.to_owned(),
        None => crate::nodes::newest(&source).await?.ok_or_else(|| {
            anyhow::anyhow!("no node ever ran on {source_url}; name it with --node")
        })?,
    };
    let (users, users_created) =
        crate::auth::centralize::import_users(target, &source, dry_run).await?;
    let content = import(target, &node, &export(&source).await?, &users, dry_run).await?;
    Ok(Outcome {
        node,
        dry_run,
        users_created,
        content,
    })
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.content;
        let verb = if self.dry_run { "would be" } else { "were" };
        writeln!(
            f,
            "centralizing {}{}:",
            self.node,
            if self.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            }
        )?;
        writeln!(f, "  users: {} {verb} created", self.users_created)?;
        writeln!(f, "  items merged (real duplicates): {}", r.merged)?;
        writeln!(f, "  items copied to the same place: {}", r.copied)?;
        writeln!(
            f,
            "  items moved into a {} subfolder (false duplicates): {}",
            self.node,
            r.moved.len()
        )?;
        for m in &r.moved {
            writeln!(f, "    {m}")?;
        }
        writeln!(f, "  folders created: {}", r.folders_created)?;
        writeln!(f, "  alerts arriving disabled: {}", r.disabled.len())?;
        for d in &r.disabled {
            writeln!(f, "    {d}")?;
        }
        Ok(())
    }
}
