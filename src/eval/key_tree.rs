//! Finding the columns of an event in one pass over its JSON.
//!
//! A catalogue reads a few dozen keys: every log source's columns, at their place in a Log
//! Analytics row (`TargetResources`) and in a diagnostic record (`properties` then
//! `targetResources`), plus the keys that tell shapes and tables apart. A [`KeyTree`] holds
//! them by object level. Reading an event walks its top-level object once, keeps the raw JSON
//! text of the keys the tree knows (borrowed from the input, not decoded) and skips the rest;
//! an inner object (`properties`) is walked only when a column inside it is asked for.
//!
//! This is the hot path of `rulecast scan`, so keys are found by hash rather than by
//! comparing strings, and nothing is allocated per key.

use std::cell::OnceCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::record::Text;

/// The keys read at one object level, and below each of them.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyTree {
    keys: Vec<String>,
    /// Open addressing by [`key_hash`]: 1 + the key's slot, 0 when empty.
    index: Vec<u32>,
    /// Each key's hash, compared before its text: with many keys known, most probes for an
    /// unknown key end there.
    hashes: Vec<u32>,
    children: Vec<KeyTree>,
    /// For each slot whose key has keys below it, the index of its cell in [`Found`].
    nested: Vec<Option<usize>>,
    /// A 256-bit filter of the keys' (length, first byte, last byte): most keys of an event
    /// are not read, and most of those are ruled out by it without hashing. The bytes matter
    /// besides the length because the shapes share lengths (`ActivityDateTime` in a row,
    /// `activityDateTime` in Graph).
    filter: [u64; 4],
}

fn filter_bit(key: &[u8]) -> (usize, u64) {
    let (first, last) = match key {
        [] => (0, 0),
        [one] => (*one, *one),
        [first, .., last] => (*first, *last),
    };
    let mixed = (key.len() as u32)
        .wrapping_mul(0x9e37)
        .wrapping_add(u32::from(first).wrapping_mul(0x85eb))
        .wrapping_add(u32::from(last).wrapping_mul(0xc2b2));
    let bit = (mixed ^ (mixed >> 8)) as usize & 255;
    (bit / 64, 1 << (bit % 64))
}

/// A hash of a key from its length and its first and last eight bytes: constant time, and
/// column names differ there. Collisions only cost a comparison.
fn key_hash(bytes: &[u8]) -> u32 {
    let word = |part: &[u8]| {
        let mut buffer = [0u8; 8];
        buffer[..part.len()].copy_from_slice(part);
        u64::from_le_bytes(buffer)
    };
    let n = bytes.len().min(8);
    let mixed =
        word(&bytes[..n]) ^ word(&bytes[bytes.len() - n..]).rotate_left(29) ^ bytes.len() as u64;
    (mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32
}

impl KeyTree {
    /// Adds a path of keys from the top level; returns the slot of each key on the way.
    pub(crate) fn insert(&mut self, path: &[&str]) -> Vec<usize> {
        let mut slots = Vec::with_capacity(path.len());
        let mut node = self;
        for key in path {
            let slot = if let Some(slot) = node.find(key) {
                slot
            } else {
                node.keys.push((*key).to_owned());
                node.children.push(KeyTree::default());
                node.nested.push(None);
                node.reindex();
                node.keys.len() - 1
            };
            slots.push(slot);
            if slots.len() < path.len() && node.nested[slot].is_none() {
                node.nested[slot] = Some(node.nested.iter().flatten().count());
            }
            node = &mut node.children[slot];
        }
        slots
    }

    fn reindex(&mut self) {
        let size = (self.keys.len() * 2).next_power_of_two().max(8);
        self.index = vec![0; size];
        self.filter = [0; 4];
        for key in &self.keys {
            let (word, bit) = filter_bit(key.as_bytes());
            self.filter[word] |= bit;
        }
        self.hashes = self.keys.iter().map(|k| key_hash(k.as_bytes())).collect();
        for (slot, key) in self.keys.iter().enumerate() {
            let mut at = key_hash(key.as_bytes()) as usize & (size - 1);
            while self.index[at] != 0 {
                at = (at + 1) & (size - 1);
            }
            self.index[at] = slot as u32 + 1;
        }
    }

    fn find(&self, key: &str) -> Option<usize> {
        let (word, bit) = filter_bit(key.as_bytes());
        if self.filter[word] & bit == 0 {
            return None;
        }
        let mask = self.index.len() - 1;
        let hash = key_hash(key.as_bytes());
        let mut at = hash as usize & mask;
        loop {
            match self.index[at] {
                0 => return None,
                entry => {
                    let slot = entry as usize - 1;
                    if self.hashes[slot] == hash && self.keys[slot] == key {
                        return Some(slot);
                    }
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// Reads the JSON object in `text`, keeping the raw value of every key the tree knows at
    /// this level. Fails when `text` is not a JSON object.
    pub(crate) fn read<'a>(&self, text: &'a str) -> Result<Found<'a>, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let values = LevelSeed(self).deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(Found {
            children: OnceCell::new(),
            values,
        })
    }
}

/// What an event holds of the keys of a [`KeyTree`].
#[derive(Debug)]
pub(crate) struct Found<'a> {
    values: Vec<Option<&'a RawValue>>,
    /// The inner objects read so far, made on the first look inside one: most records (Log
    /// Analytics rows) are read at their top level only.
    children: OnceCell<Vec<OnceCell<Option<Found<'a>>>>>,
}

impl<'a> Found<'a> {
    /// The raw value at a slot path (from [`KeyTree::insert`]); inner objects are read on first use.
    pub(crate) fn at(&self, tree: &KeyTree, path: &[usize]) -> Option<&'a RawValue> {
        let (&slot, rest) = path.split_first()?;
        let raw = self.values[slot]?;
        if rest.is_empty() {
            return Some(raw);
        }
        let child = &tree.children[slot];
        let children = self.children.get_or_init(|| {
            let nested = tree.nested.iter().flatten().count();
            (0..nested).map(|_| OnceCell::new()).collect()
        });
        let cell = &children[tree.nested[slot]?];
        let inner = cell.get_or_init(|| {
            if raw.get().starts_with('{') {
                child.read(raw.get()).ok()
            } else {
                None
            }
        });
        inner.as_ref()?.at(child, rest)
    }
}

struct LevelSeed<'t>(&'t KeyTree);

impl<'de> DeserializeSeed<'de> for LevelSeed<'_> {
    type Value = Vec<Option<&'de RawValue>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LevelSeed<'_> {
    type Value = Vec<Option<&'de RawValue>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = vec![None; self.0.keys.len()];
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            // The last of duplicate keys wins, as in serde_json's own maps.
            match self.0.find(&key) {
                Some(slot) => values[slot] = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_known_keys_at_every_level_and_skips_the_rest() {
        let mut tree = KeyTree::default();
        let time = tree.insert(&["time"]);
        let category = tree.insert(&["properties", "category"]);
        let upn = tree.insert(&["identity", "claims", "http://x.y/upn"]);
        assert_eq!(tree.insert(&["time"]), time, "a path is registered once");
        let text = r#"{"time":"t","other":[1,{"time":"inner"}],"properties":{"category":"RoleManagement","x":1},"identity":{"claims":{"http://x.y/upn":"a@b"}}}"#;
        let found = tree.read(text).unwrap();
        let get = |path: &[usize]| found.at(&tree, path).map(RawValue::get);
        assert_eq!(get(&time), Some("\"t\""));
        assert_eq!(get(&category), Some("\"RoleManagement\""));
        assert_eq!(get(&upn), Some("\"a@b\""));
        let found = tree
            .read(r#"{"properties":"not an object","time":1,"time":2}"#)
            .unwrap();
        assert!(found.at(&tree, &category).is_none());
        assert_eq!(
            found.at(&tree, &time).map(RawValue::get),
            Some("2"),
            "the last duplicate wins"
        );
    }

    #[test]
    fn only_json_objects_are_read() {
        let tree = KeyTree::default();
        assert!(tree.read("[1]").is_err());
        assert!(tree.read("{\"a\":").is_err());
        assert!(tree.read("{\"a\":1} trailing").is_err());
        assert!(tree.read("{\"a\":[1,2,{\"b\":null}]}").is_ok());
    }

    #[test]
    fn many_keys_hash_apart() {
        let mut tree = KeyTree::default();
        let slots: Vec<usize> = (0..300)
            .map(|i| tree.insert(&[&format!("key{i}")])[0])
            .collect();
        assert_eq!(slots, (0..300).collect::<Vec<_>>());
        assert_eq!(tree.find("key299"), Some(299));
        assert_eq!(tree.find("key300"), None);
    }
}
