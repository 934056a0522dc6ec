//! A standalone node joins the cluster (seed 003, SPEC section 8): its
//! users, content and product records arrive in the cluster's database by
//! the merge rules. A plan (the dry run) comes first; the run writes it in
//! batches. Sources go one at a time, in the order their nodes connected
//! ([`join`]), each with a status the Nodes page shows.

pub mod handlers;
pub mod join;
pub mod store;

use std::collections::HashMap;

use app::api::centralize::{Outcome, OwnerOutcome};

use crate::auth::centralize::{import_users, Users};
use crate::content::centralize as content;
use crate::db::Db;
use crate::products::centralize as products;

/// Records written per transaction.
const BATCH: usize = 1000;

/// A source opened, its users matched and its plan made.
pub struct Prepared {
    source: Db,
    database_id: String,
    export: content::Export,
    content: content::Plan,
    products: products::Plan,
    pub outcome: Outcome,
}

impl Prepared {
    /// Records to write: items, then products.
    pub fn total(&self) -> u64 {
        (self.content.size() + self.products.size()) as u64
    }
}

/// Opens the standalone database at `source_url`; `node` names it (by
/// default, the node that ran on it last).
pub async fn open(source_url: &str, node: Option<&str>) -> Result<(Db, String), anyhow::Error> {
    let source = Db::connect(source_url).await?;
    let node = match node {
        Some(n) => n.to_owned(),
        None => crate::nodes::newest(&source).await?.ok_or_else(|| {
            anyhow::anyhow!("no node ever ran on {source_url}; name it with --node")
        })?,
    };
    Ok((source, node))
}

/// Plans the source `node`. Unless `dry_run`, its missing users are
/// created first (matched by name, so that is idempotent too).
pub async fn prepare(
    target: &Db,
    source: Db,
    node: &str,
    dry_run: bool,
) -> Result<Prepared, anyhow::Error> {
    let database_id = store::database_id(&source).await?;
    let users = import_users(target, &source, dry_run).await?;
    let export = content::export(&source).await?;
    let content = content::plan(node, &export, &users.ids, content::cluster(target).await?);
    let products = products::plan(target, &source, &database_id).await?;
    let outcome = outcome(node, dry_run, &users, &content.report, &products);
    Ok(Prepared {
        source,
        database_id,
        export,
        content,
        products,
        outcome,
    })
}

/// Writes a prepared source. `progress` hears the records written so far
/// after each batch; an error from it stops the run there.
pub async fn apply(
    target: &Db,
    prepared: Prepared,
    log_retention: i64,
    batch: usize,
    mut progress: impl FnMut(u64) -> Result<(), String>,
) -> Result<Outcome, anyhow::Error> {
    let Prepared {
        source,
        database_id,
        export,
        content: plan,
        products: product_plan,
        mut outcome,
    } = prepared;
    let items = plan.size() as u64;
    let report = content::apply(target, plan, &export, batch, &mut progress).await?;
    // The limits are checked again as the alerts are enabled.
    for (o, r) in outcome.owners.iter_mut().zip(&report.owners) {
        o.disabled = r.disabled.clone();
    }
    products::apply(
        target,
        &source,
        &database_id,
        &product_plan,
        log_retention,
        batch,
        |done| progress(items + done),
    )
    .await?;
    Ok(outcome)
}

/// Centralizes (or with `dry_run` plans) the standalone database at
/// `source_url` into `target` in one go, as `vigil centralize` does: at
/// once, whatever else is in line, recorded as a source like a joining
/// node's.
pub async fn centralize(
    target: &Db,
    source_url: &str,
    node: Option<&str>,
    dry_run: bool,
    log_retention: i64,
) -> Result<Outcome, anyhow::Error> {
    let (source, node) = open(source_url, node).await?;
    let prepared = prepare(target, source, &node, dry_run).await?;
    if dry_run {
        return Ok(prepared.outcome);
    }
    let cluster = store::database_id(target).await?;
    let source = prepared.source.clone();
    let id = prepared.database_id.clone();
    // Shown on the Nodes page like a joining node's run.
    store::run_now(
        target,
        &id,
        &node,
        &prepared.outcome,
        prepared.total() as i64,
    )
    .await?;
    let outcome = match apply(target, prepared, log_retention, BATCH, |_| Ok(())).await {
        Ok(outcome) => outcome,
        Err(e) => {
            store::finish(target, &id, Err(&format!("{e:#}"))).await?;
            return Err(e);
        }
    };
    store::finish(target, &id, Ok(&outcome)).await?;
    store::mark(&source, &cluster).await?;
    source.close().await;
    Ok(outcome)
}

fn outcome(
    node: &str,
    dry_run: bool,
    users: &Users,
    report: &content::Report,
    products: &products::Plan,
) -> Outcome {
    let names: &HashMap<i64, String> = &users.names;
    Outcome {
        node: node.to_owned(),
        dry_run,
        users_created: users.created,
        folders_created: report.folders_created,
        owners: report
            .owners
            .iter()
            .map(|o| OwnerOutcome {
                owner: match o.source_user {
                    None => "Global".to_owned(),
                    Some(id) => names
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| format!("user {id}")),
                },
                merged: o.merged,
                copied: o.copied,
                moved: o.moved.clone(),
                disabled: o.disabled.clone(),
            })
            .collect(),
        products: products.outcome.clone(),
    }
}

/// The plan or report as `vigil centralize` prints it.
pub fn render(o: &Outcome) -> String {
    let verb = if o.dry_run { "would be" } else { "were" };
    let mut out = format!(
        "centralizing {}{}:\n",
        o.node,
        if o.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    out += &format!("  users: {} {verb} created\n", o.users_created);
    for t in &o.owners {
        out += &format!(
            "  {}: {} merged (real duplicates), {} copied, {} moved into a {} subfolder (false duplicates), {} alert(s) arriving disabled\n",
            t.owner,
            t.merged,
            t.copied,
            t.moved.len(),
            o.node,
            t.disabled.len()
        );
        for m in &t.moved {
            out += &format!("    moved: {m}\n");
        }
        for d in &t.disabled {
            out += &format!("    disabled: {d}\n");
        }
    }
    out += &format!(
        "  items: {} merged, {} copied, {} moved; folders created: {}\n",
        o.merged(),
        o.copied(),
        o.moved(),
        o.folders_created
    );
    let p = &o.products;
    out += &format!(
        "  products: {} new, {} merged by UUID, {} unmanaged (no agent)\n",
        p.new, p.merged, p.unmanaged
    );
    out
}
