//! Walks a tree's folders (plain data, no SQL): depth, descendants, cycles.

use std::collections::HashMap;

use super::store::FolderRow;

/// The folders of one tree, by id.
pub struct Folders<'a> {
    by_id: HashMap<&'a str, &'a FolderRow>,
    all: &'a [FolderRow],
}

impl<'a> Folders<'a> {
    pub fn new(all: &'a [FolderRow]) -> Self {
        Self {
            by_id: all.iter().map(|f| (f.id.as_str(), f)).collect(),
            all,
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// How deep `id` sits: 1 for a folder at the top ('' is 0).
    pub fn depth(&self, id: &str) -> usize {
        let mut depth = 0;
        let mut at = id;
        while let Some(f) = self.by_id.get(at) {
            depth += 1;
            at = &f.parent;
            if depth > self.all.len() {
                break; // a cycle the database should never hold
            }
        }
        depth
    }

    /// Whether `id` is `ancestor` or lies inside it.
    pub fn is_within(&self, id: &str, ancestor: &str) -> bool {
        let mut at = id;
        for _ in 0..=self.all.len() {
            if at == ancestor {
                return true;
            }
            match self.by_id.get(at) {
                Some(f) => at = &f.parent,
                None => return false,
            }
        }
        false
    }

    /// How many levels the folder `id` holds below itself (0 when empty).
    pub fn height(&self, id: &str) -> usize {
        self.all
            .iter()
            .filter(|f| f.id != id && self.is_within(&f.id, id))
            .map(|f| self.depth(&f.id) - self.depth(id))
            .max()
            .unwrap_or(0)
    }

    /// `id` and every folder inside it, deepest first (the order to delete).
    pub fn subtree(&self, id: &str) -> Vec<String> {
        let mut found: Vec<&FolderRow> = self
            .all
            .iter()
            .filter(|f| self.is_within(&f.id, id))
            .collect();
        found.sort_by_key(|f| std::cmp::Reverse(self.depth(&f.id)));
        found.into_iter().map(|f| f.id.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Owner;

    fn folder(id: &str, parent: &str) -> FolderRow {
        FolderRow {
            id: id.into(),
            owner: Owner::User(1),
            parent: parent.into(),
            name: id.into(),
        }
    }

    #[test]
    fn a_folder_knows_its_depth_its_subtree_and_what_it_holds() {
        let all = [
            folder("a", ""),
            folder("b", "a"),
            folder("c", "b"),
            folder("d", ""),
        ];
        let tree = Folders::new(&all);
        assert_eq!(tree.depth("c"), 3);
        assert_eq!(tree.depth(""), 0);
        assert!(tree.is_within("c", "a"));
        assert!(!tree.is_within("a", "c"));
        assert!(!tree.is_within("d", "a"));
        assert_eq!(tree.height("a"), 2);
        assert_eq!(tree.height("d"), 0);
        assert_eq!(tree.subtree("a"), ["c", "b", "a"]);
    }
}
