//! Resource synchronization: a standalone node's product records arriving
//! in the cluster's database (seed 001, SPEC section 8). Records are merged
//! by UUID: the one seen last wins, both histories are kept. A record that
//! no agent ever registered arrives `unmanaged`, until its agent does.

use std::collections::HashSet;

use app::api::centralize::ProductsOutcome;
use app::state::StateClass;

use super::store::centralize::{self as sql, Product};
use crate::cluster::store::bump;
use crate::db::{Db, StoreError};

/// What a source's products come to.
pub struct Plan {
    /// Not in the cluster yet.
    new: Vec<Product>,
    /// In the cluster, and seen later on the source: the source's record
    /// replaces the cluster's.
    newer: Vec<Product>,
    /// Every product whose history is still to copy.
    histories: Vec<String>,
    pub outcome: ProductsOutcome,
}

impl Plan {
    /// The records to write, for progress.
    pub fn size(&self) -> usize {
        self.histories.len()
    }
}

/// Compares the source's records with the cluster's.
pub async fn plan(target: &Db, source: &Db, database_id: &str) -> Result<Plan, StoreError> {
    let products = sql::products(source).await?;
    let ids: Vec<String> = products.iter().map(|p| p.id.clone()).collect();
    let known = sql::known(target, &ids).await?;
    let journaled: HashSet<String> = sql::journaled(target, database_id)
        .await?
        .into_iter()
        .collect();
    let mut plan = Plan {
        new: Vec::new(),
        newer: Vec::new(),
        histories: Vec::new(),
        outcome: ProductsOutcome::default(),
    };
    for mut p in products {
        if !journaled.contains(&p.id) {
            plan.histories.push(p.id.clone());
        }
        if !p.has_agent() {
            p.make_unmanaged();
        }
        match known.get(&p.id) {
            None => {
                plan.outcome.new += 1;
                if p.status == "unmanaged" {
                    plan.outcome.unmanaged += 1;
                }
                plan.new.push(p);
            }
            Some(there) => {
                plan.outcome.merged += 1;
                if p.last_seen.is_some() && p.last_seen > *there {
                    plan.newer.push(p);
                }
            }
        }
    }
    Ok(plan)
}

/// Writes the plan, `batch` products per transaction; `progress` hears how
/// many are done after each, and may stop the run.
pub async fn apply(
    target: &Db,
    source: &Db,
    database_id: &str,
    plan: &Plan,
    retention: i64,
    batch: usize,
    mut progress: impl FnMut(u64) -> Result<(), String>,
) -> Result<(), anyhow::Error> {
    let mut tx = target.begin_write().await?;
    let new: Vec<&Product> = plan.new.iter().collect();
    sql::insert_products(target, &mut tx, &new).await?;
    let newer: Vec<&Product> = plan.newer.iter().collect();
    sql::replace_products(target, &mut tx, &newer).await?;
    bump(&mut *tx, StateClass::Products).await?;
    tx.commit().await?;
    let mut done = 0;
    for chunk in plan.histories.chunks(batch.max(1)) {
        let mut tx = target.begin_write().await?;
        sql::copy_histories(source, &mut tx, database_id, chunk, retention).await?;
        bump(&mut *tx, StateClass::Commands).await?;
        tx.commit().await?;
        done += chunk.len() as u64;
        progress(done).map_err(anyhow::Error::msg)?;
    }
    Ok(())
}
