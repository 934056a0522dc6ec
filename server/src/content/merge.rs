//! Where a standalone node's content lands in the cluster's (seed 003), one
//! owner's tree at a time. Items are compared by folder path, name and
//! the hash of their canonical definition:
//!
//! - the same folder, name and definition: a **real duplicate**, merged
//!   into the item already there;
//! - the same folder and name, another definition: a **false duplicate**;
//!   the item that arrived first keeps its place and the later one goes
//!   into a subfolder named after its source node inside that folder;
//! - anything else is copied, with its own name, to the same place.
//!
//! The rules are their own journal: running a source again finds every
//! item where the first run put it, with the same definition, and merges
//! it there, so it changes nothing.

use std::collections::HashMap;

/// A folder path from the top of a tree.
pub type Path = Vec<String>;

/// What became of one source item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// A real duplicate: the same as the item `into`.
    Merged { into: String },
    /// Copied to the same place under its own name.
    Copied { path: Path, name: String },
    /// A false duplicate, put in the source node's subfolder (with a
    /// number after its name if that place is taken by another definition
    /// as well).
    Moved { path: Path, name: String },
}

/// One owner's tree in the cluster, as far as merging needs it: each
/// item's id and definition hash by folder path and name.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    items: HashMap<(Path, String), (String, String)>,
}

impl Tree {
    /// Notes an item that is in the cluster already.
    pub fn add(&mut self, path: Path, name: String, id: String, hash: String) {
        self.items.insert((path, name), (id, hash));
    }

    /// Decides where an item of `node` named `name` at `path` with
    /// definition `hash` goes. A copy or a move is noted as the item `id`
    /// (the id it will have in the cluster), so the items after it see it.
    pub fn place(&mut self, node: &str, path: &Path, name: &str, hash: &str, id: &str) -> Fate {
        let here = (path.clone(), name.to_owned());
        match self.items.get(&here) {
            None => {
                self.items.insert(here, (id.to_owned(), hash.to_owned()));
                return Fate::Copied {
                    path: path.clone(),
                    name: name.to_owned(),
                };
            }
            Some((into, h)) if h == hash => return Fate::Merged { into: into.clone() },
            Some(_) => {}
        }
        let mut sub = path.clone();
        sub.push(node.to_owned());
        for n in 1.. {
            let candidate = if n == 1 {
                name.to_owned()
            } else {
                format!("{name} ({n})")
            };
            let there = (sub.clone(), candidate.clone());
            match self.items.get(&there) {
                None => {
                    self.items.insert(there, (id.to_owned(), hash.to_owned()));
                    return Fate::Moved {
                        path: sub,
                        name: candidate,
                    };
                }
                Some((into, h)) if h == hash => return Fate::Merged { into: into.clone() },
                Some(_) => {}
            }
        }
        unreachable!("some numbered name is free")
    }

    /// How many items the tree holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    /// One source item: path, name, hash.
    type Item = (Path, String, String);

    fn random_source(rng: &mut StdRng) -> Vec<Item> {
        let folders: Vec<Path> = vec![
            vec![],
            vec!["ops".into()],
            vec!["ops".into(), "db".into()],
            vec!["net".into()],
        ];
        let mut items: HashMap<(Path, String), String> = HashMap::new();
        for _ in 0..rng.gen_range(0..25) {
            let path = folders.choose(rng).unwrap().clone();
            let name = format!("item {}", rng.gen_range(0..6));
            let hash = format!("h{}", rng.gen_range(0..3));
            items.insert((path, name), hash);
        }
        items.into_iter().map(|((p, n), h)| (p, n, h)).collect()
    }

    /// The merged tree obeys the three rules for the order the sources
    /// came in, loses nothing, and a second run changes nothing.
    #[test]
    fn random_sources_in_random_order_follow_the_rules_and_merge_once() {
        for seed in 0..300 {
            let mut rng = StdRng::seed_from_u64(seed);
            let k = rng.gen_range(1..5);
            let mut sources: Vec<(String, Vec<Item>)> = (0..k)
                .map(|i| (format!("node-{i}"), random_source(&mut rng)))
                .collect();
            sources.shuffle(&mut rng);
            let mut tree = Tree::default();
            // What each place held first, in arrival order.
            let mut first: HashMap<(Path, String), String> = HashMap::new();
            let mut next_id = 0;
            for (node, items) in &sources {
                for (path, name, hash) in items {
                    next_id += 1;
                    let id = format!("t{next_id}");
                    let fate = tree.place(node, path, name, hash, &id);
                    let key = (path.clone(), name.clone());
                    match (&fate, first.get(&key)) {
                        (Fate::Copied { path: p, name: n }, None) => {
                            assert_eq!((p, n), (path, name), "seed {seed}");
                            first.insert(key, hash.clone());
                        }
                        (Fate::Merged { .. }, Some(h)) if h == hash => {}
                        (Fate::Moved { path: p, .. }, Some(h)) => {
                            assert_ne!(h, hash, "seed {seed}: a real duplicate moved");
                            let mut sub = path.clone();
                            sub.push(node.clone());
                            assert_eq!(p, &sub, "seed {seed}");
                        }
                        (Fate::Merged { .. }, Some(_)) => {
                            // Merged with what it moved next to before: only
                            // if that subfolder item has its definition.
                        }
                        (fate, before) => panic!("seed {seed}: {fate:?} with {before:?}"),
                    }
                }
            }
            // Nothing lost: every source item is in the tree with its hash.
            for (node, items) in &sources {
                for (path, name, hash) in items {
                    let mut sub = path.clone();
                    sub.push(node.clone());
                    let found = tree.items.get(&(path.clone(), name.clone())).map(|x| &x.1)
                        == Some(hash)
                        || tree.items.iter().any(|((p, n), (_, h))| {
                            p == &sub && n.starts_with(name.as_str()) && h == hash
                        });
                    assert!(found, "seed {seed}: {node} {path:?}/{name} {hash} lost");
                }
            }
            // A second run in any order changes nothing.
            let size = tree.len();
            sources.shuffle(&mut rng);
            for (node, items) in &sources {
                for (path, name, hash) in items {
                    let fate = tree.place(node, path, name, hash, "again");
                    assert!(matches!(fate, Fate::Merged { .. }), "seed {seed}: {fate:?}");
                }
            }
            assert_eq!(tree.len(), size);
        }
    }
}
