//! Liveness held in memory on the receiving node and written to the database
//! in batches, at most a second late.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::{now_ms, store, Liveness, Products, Source};

/// How often the batch is written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// The mark stays this far behind the clock, so a proof stamped just before
/// a flush but recorded just after it is never counted as written.
const MARK_MARGIN_MS: i64 = 100;

/// The latest unwritten proof of life per product. A std mutex: it is held
/// for a map operation only, never across an await.
#[derive(Default)]
pub struct Recorder {
    pending: Mutex<HashMap<Arc<str>, Liveness>>,
}

impl Recorder {
    /// Keeps the newest proof; activity data from an older one is kept when
    /// the newer carries none.
    pub fn record(&self, l: Liveness) {
        let mut map = self.pending.lock().expect("recorder lock");
        merge(&mut map, l);
    }

    /// Records an HTTP call's proof without allocating in the steady state:
    /// the held entry is updated in place and its activity buffer reused.
    pub fn record_call(
        &self,
        product: &Arc<str>,
        at: i64,
        source: Source,
        activity: Option<&[u8]>,
    ) {
        self.record_datagram(product, at, 0, source, activity.unwrap_or_default());
    }

    /// Records a datagram's proof without allocating in the steady state:
    /// the held activity buffer is reused.
    pub fn record_datagram(
        &self,
        product: &Arc<str>,
        at: i64,
        seq: i64,
        source: Source,
        payload: &[u8],
    ) {
        let mut map = self.pending.lock().expect("recorder lock");
        match map.get_mut(product) {
            Some(held) => {
                if at >= held.at {
                    held.at = at;
                    held.source = source;
                }
                held.seq = held.seq.max(seq);
                if !payload.is_empty() {
                    let buf = held.activity.get_or_insert_with(Vec::new);
                    buf.clear();
                    buf.extend_from_slice(payload);
                }
            }
            None => {
                map.insert(
                    product.clone(),
                    Liveness {
                        product: product.clone(),
                        at,
                        seq,
                        activity: (!payload.is_empty()).then(|| payload.to_vec()),
                        source,
                    },
                );
            }
        }
    }

    /// Takes everything recorded so far.
    pub fn take(&self) -> Vec<Liveness> {
        let mut map = self.pending.lock().expect("recorder lock");
        std::mem::take(&mut *map).into_values().collect()
    }

    /// Returns a batch that could not be written; newer proofs win.
    pub fn put_back(&self, batch: Vec<Liveness>) {
        let mut map = self.pending.lock().expect("recorder lock");
        for l in batch {
            merge(&mut map, l);
        }
    }

    pub fn len(&self) -> usize {
        self.pending.lock().expect("recorder lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn merge(map: &mut HashMap<Arc<str>, Liveness>, l: Liveness) {
    match map.get_mut(&l.product) {
        Some(held) => {
            let seq = held.seq.max(l.seq);
            if l.at >= held.at {
                let older = held.activity.take();
                *held = l;
                if held.activity.is_none() {
                    held.activity = older;
                }
            } else if held.activity.is_none() {
                held.activity = l.activity;
            }
            held.seq = seq;
        }
        None => {
            map.insert(l.product.clone(), l);
        }
    }
}

/// Writes the batch every second until `closing`, then once more.
pub async fn run(products: Products, node: String, mut closing: watch::Receiver<bool>) {
    let db = &products.db;
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        let last = tokio::select! {
            _ = tick.tick() => false,
            changed = closing.changed() => changed.is_err() || *closing.borrow(),
        };
        let mark = now_ms() - MARK_MARGIN_MS;
        let batch = products.recorder.take();
        match store::flush(db, &node, &batch, mark).await {
            Ok(_) if failing => {
                tracing::info!("liveness flushes succeed again");
                failing = false;
            }
            Ok(_) => {}
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, held = batch.len(), "cannot write liveness; keeping it for the next try");
                }
                failing = true;
                products.recorder.put_back(batch);
            }
        }
        if last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(at: i64, activity: Option<&str>) -> Liveness {
        Liveness {
            product: "p".into(),
            at,
            seq: at,
            activity: activity.map(|a| a.as_bytes().to_vec()),
            source: Source::HttpHeartbeat,
        }
    }

    #[test]
    fn datagrams_update_the_held_proof_in_place() {
        let r = Recorder::default();
        let id: Arc<str> = "p".into();
        r.record_datagram(&id, 10, 1, Source::UdpHeartbeat, br#"{"a":1}"#);
        r.record_datagram(&id, 20, 2, Source::UdpHeartbeat, b"");
        let batch = r.take();
        assert_eq!((batch[0].at, batch[0].seq), (20, 2));
        assert_eq!(batch[0].activity.as_deref(), Some(&br#"{"a":1}"#[..]));
    }

    #[test]
    fn the_newest_proof_wins_and_activity_is_kept() {
        let r = Recorder::default();
        r.record(proof(10, Some("{\"a\":1}")));
        r.record(proof(20, None));
        r.record(proof(15, None));
        let batch = r.take();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].at, 20);
        assert_eq!(batch[0].activity.as_deref(), Some(&b"{\"a\":1}"[..]));
        assert!(r.is_empty());
    }

    #[test]
    fn a_failed_batch_comes_back_without_hiding_newer_proofs() {
        let r = Recorder::default();
        r.record(proof(10, None));
        let batch = r.take();
        r.record(proof(30, None));
        r.put_back(batch);
        assert_eq!(r.take()[0].at, 30);
    }
}
