//! A collection's entries: a plain hash table when the collection is unbounded, a
//! least-recently-used list when it has a bound.
//!
//! Recency costs a list node per entry (its own allocation, two links) and a pointer
//! chase per lookup, and iterating a list visits the nodes wherever they were
//! allocated. An unbounded collection never evicts, so it keeps its entries inline in
//! the hash table's slots: a put allocates nothing of its own beyond the entry, an
//! overwrite replaces the slot in place, and `keys` and `cull` read the slots in
//! order.

use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroUsize;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry as Slot;
use lru::LruCache;

use crate::{Stored, Times};

/// A collection's entries, keyed by [`Stored::key`]. Both forms hash keys with the
/// standard library's randomly keyed SipHash: keys may come from untrusted input.
pub(crate) enum Table {
    Unbounded {
        entries: HashTable<(Stored, Times)>,
        hasher: RandomState,
    },
    Bounded(LruCache<Stored, Times>),
}

impl Table {
    /// An empty table; with `max`, it keeps at most that many entries, evicting the
    /// least recently used (read or written).
    pub(crate) fn new(max: Option<NonZeroUsize>) -> Table {
        match max {
            Some(max) => Table::Bounded(LruCache::new(max)),
            None => Table::Unbounded {
                entries: HashTable::new(),
                hasher: RandomState::new(),
            },
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Table::Unbounded { entries, .. } => entries.len(),
            Table::Bounded(lru) => lru.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `key`'s entry, made the most recently used in a bounded table.
    pub(crate) fn get(&mut self, key: &str) -> Option<(&Stored, &Times)> {
        match self {
            Table::Unbounded { entries, hasher } => {
                find(entries, hasher, key).map(|(stored, times)| (stored, times))
            }
            Table::Bounded(lru) => lru.get_key_value(key),
        }
    }

    /// `key`'s times, leaving its recency as it is.
    pub(crate) fn peek(&self, key: &str) -> Option<Times> {
        match self {
            Table::Unbounded { entries, hasher } => {
                find(entries, hasher, key).map(|(_, times)| *times)
            }
            Table::Bounded(lru) => lru.peek(key).copied(),
        }
    }

    /// Takes `key`'s entry out; returns its times.
    pub(crate) fn pop(&mut self, key: &str) -> Option<Times> {
        match self {
            Table::Unbounded { entries, hasher } => {
                let times = entries
                    .find_entry(hasher.hash_one(key), |(stored, _)| stored.key() == key)
                    .ok()
                    .map(|slot| slot.remove().0.1);
                shrink_if_sparse(entries, hasher);
                times
            }
            Table::Bounded(lru) => lru.pop(key),
        }
    }

    /// Puts an entry, replacing any of its key (and in a full bounded table, evicting
    /// the least recently used).
    pub(crate) fn put(&mut self, stored: Stored, times: Times) {
        match self {
            Table::Unbounded { entries, hasher } => {
                let hash = hasher.hash_one(stored.key());
                let slot = entries.entry(
                    hash,
                    |(held, _)| held.key() == stored.key(),
                    |(held, _)| hasher.hash_one(held.key()),
                );
                match slot {
                    Slot::Occupied(mut slot) => *slot.get_mut() = (stored, times),
                    Slot::Vacant(slot) => {
                        slot.insert((stored, times));
                    }
                }
            }
            Table::Bounded(lru) => {
                // The list keeps the key it has on an overwrite, and the key holds the
                // value: the old entry goes first.
                lru.pop(stored.key());
                lru.put(stored, times);
            }
        }
    }

    /// Every entry: in a bounded table from the most recently used, in an unbounded
    /// one in no particular order.
    pub(crate) fn iter(&self) -> Iter<'_> {
        match self {
            Table::Unbounded { entries, .. } => Iter::Unbounded(entries.iter()),
            Table::Bounded(lru) => Iter::Bounded(lru.iter()),
        }
    }

    /// Drops every entry for which `keep` is false.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Times) -> bool) {
        match self {
            Table::Unbounded { entries, hasher } => {
                entries.retain(|(_, times)| keep(times));
                shrink_if_sparse(entries, hasher);
            }
            Table::Bounded(lru) => {
                let dropped: Vec<String> = lru
                    .iter()
                    .filter(|(_, times)| !keep(times))
                    .map(|(stored, _)| stored.key().to_owned())
                    .collect();
                for key in dropped {
                    lru.pop(key.as_str());
                }
            }
        }
    }
}

/// An iterator over a table's entries.
pub(crate) enum Iter<'a> {
    Unbounded(hashbrown::hash_table::Iter<'a, (Stored, Times)>),
    Bounded(lru::Iter<'a, Stored, Times>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Stored, &'a Times);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Unbounded(slots) => slots.next().map(|(stored, times)| (stored, times)),
            Iter::Bounded(list) => list.next(),
        }
    }
}

/// `key`'s slot in an unbounded table.
fn find<'a>(
    entries: &'a HashTable<(Stored, Times)>,
    hasher: &RandomState,
    key: &str,
) -> Option<&'a (Stored, Times)> {
    entries.find(hasher.hash_one(key), |(stored, _)| stored.key() == key)
}

/// Gives memory back after mass deletes or a cull: a table never shrinks by itself,
/// and its slots hold whole entries. Halving it when under a quarter full keeps a
/// table that shrinks and grows around one size from reallocating at every step.
fn shrink_if_sparse(entries: &mut HashTable<(Stored, Times)>, hasher: &RandomState) {
    if entries.capacity() > 64 && entries.len() < entries.capacity() / 4 {
        entries.shrink_to(entries.len() * 2, |(stored, _)| {
            hasher.hash_one(stored.key())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn stored(key: &str, n: u64) -> Stored {
        let mut value = key_value_core::JsonObject::new();
        value.insert("n".into(), n.into());
        Stored::new(key, value).unwrap()
    }

    fn times(n: u64) -> Times {
        Times {
            expires: n,
            created: n,
        }
    }

    /// Both forms, driven through the same steps (a bounded table larger than any
    /// step's keys never evicts), agree with a plain map at every step.
    #[test]
    fn both_forms_agree_with_a_map() {
        let mut tables = [Table::new(None), Table::new(NonZeroUsize::new(1_000))];
        let mut model: BTreeMap<String, u64> = BTreeMap::new();
        // A fixed pseudo-random walk over 50 keys: puts (often overwriting), pops,
        // lookups and culls of odd numbers.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for step in 0..5_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let key = format!("key-{}", state % 50);
            match (state >> 8) % 8 {
                0..=3 => {
                    for table in &mut tables {
                        table.put(stored(&key, step), times(step));
                    }
                    model.insert(key, step);
                }
                4 | 5 => {
                    let expected = model.remove(&key);
                    for table in &mut tables {
                        assert_eq!(table.pop(&key).map(|t| t.expires), expected);
                    }
                }
                6 => {
                    let expected = model.get(&key).copied();
                    for table in &mut tables {
                        assert_eq!(table.peek(&key).map(|t| t.created), expected);
                        let found = table.get(&key).map(|(stored, t)| {
                            assert_eq!(stored.key(), key);
                            t.expires
                        });
                        assert_eq!(found, expected);
                    }
                }
                _ => {
                    model.retain(|_, n| *n % 2 == 0);
                    for table in &mut tables {
                        table.retain(|t| t.expires % 2 == 0);
                    }
                }
            }
            for table in &tables {
                assert_eq!(table.len(), model.len());
                let mut keys: Vec<&str> = table.iter().map(|(stored, _)| stored.key()).collect();
                keys.sort_unstable();
                assert!(keys.iter().copied().eq(model.keys().map(String::as_str)));
            }
        }
    }

    #[test]
    fn an_overwrite_replaces_the_key_and_value_together() {
        for mut table in [Table::new(None), Table::new(NonZeroUsize::new(4))] {
            table.put(stored("k", 1), times(1));
            table.put(stored("k", 2), times(2));
            assert_eq!(table.len(), 1);
            let Some((Stored::Encoded { text, .. }, t)) = table.get("k") else {
                panic!("the entry is there, encoded");
            };
            assert_eq!(&**text, r#"k{"n":2}"#);
            assert_eq!(t.expires, 2);
        }
    }

    #[test]
    fn an_unbounded_table_gives_memory_back_when_emptied_out() {
        let mut table = Table::new(None);
        for n in 0..10_000 {
            table.put(stored(&format!("key-{n}"), n), times(n));
        }
        let capacity = |table: &Table| match table {
            Table::Unbounded { entries, .. } => entries.capacity(),
            Table::Bounded(_) => unreachable!(),
        };
        let full = capacity(&table);
        for n in 0..9_990 {
            assert!(table.pop(&format!("key-{n}")).is_some());
        }
        assert!(
            capacity(&table) < full / 100,
            "{} of {full}",
            capacity(&table)
        );
        for n in 9_990..10_000 {
            assert_eq!(table.peek(&format!("key-{n}")).map(|t| t.created), Some(n));
        }
        table.retain(|_| false);
        assert!(table.is_empty() && capacity(&table) <= 64);
    }

    #[test]
    fn a_bounded_table_evicts_the_least_recently_used() {
        let mut table = Table::new(NonZeroUsize::new(2));
        table.put(stored("a", 1), times(1));
        table.put(stored("b", 2), times(2));
        assert!(table.get("a").is_some());
        table.put(stored("c", 3), times(3));
        assert!(table.peek("b").is_none());
        assert!(table.peek("a").is_some() && table.peek("c").is_some());
    }
}
