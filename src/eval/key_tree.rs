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
//! comparing strings, nothing is allocated per key, and the top level is walked by [`walk`]
//! (several times faster than serde_json), with serde_json reading whatever that walk is not
//! certain of, so that errors are serde_json's.

mod walk;

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

/// A hash of a key from its length and its first and last eight bytes (all of them when it is
/// shorter): constant time, and column names differ there. Collisions only cost a comparison.
/// Read as whole words, not copied into a buffer (a `memcpy` call per key).
fn key_hash(bytes: &[u8]) -> u32 {
    let n = bytes.len();
    let (head, tail) = if n >= 8 {
        (
            u64::from_le_bytes(bytes[..8].try_into().expect("eight bytes")),
            u64::from_le_bytes(bytes[n - 8..].try_into().expect("eight bytes")),
        )
    } else if n >= 4 {
        (
            u64::from(u32::from_le_bytes(
                bytes[..4].try_into().expect("four bytes"),
            )),
            u64::from(u32::from_le_bytes(
                bytes[n - 4..].try_into().expect("four bytes"),
            )),
        )
    } else if n > 0 {
        (
            u64::from(bytes[0]) | u64::from(bytes[n / 2]) << 8,
            u64::from(bytes[n - 1]),
        )
    } else {
        (0, 0)
    };
    let mixed = head ^ tail.rotate_left(29) ^ n as u64;
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
        let mut values = vec![None; self.keys.len()];
        let walked = walk::members(text, |key, value| {
            // The last of duplicate keys wins, as in serde_json's own maps.
            if let Some(slot) = self.find(key) {
                values[slot] = Some(RawJson(value));
            }
            Some(())
        });
        if walked.is_some() {
            return Ok(Found {
                children: OnceCell::new(),
                values,
            });
        }
        self.read_with_serde_json(text)
    }

    /// [`KeyTree::read`] by serde_json alone.
    fn read_with_serde_json<'a>(&self, text: &'a str) -> Result<Found<'a>, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let values = LevelSeed(self).deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(Found {
            children: OnceCell::new(),
            values,
        })
    }
}

/// The text of one JSON value of a record, borrowed from the input, not decoded: valid JSON,
/// checked either by serde_json (a `RawValue`) or by [`walk`], which accepts exactly what
/// serde_json does when it skips a value (so it holds no raw control character either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawJson<'a>(&'a str);

impl<'a> RawJson<'a> {
    pub(crate) fn get(self) -> &'a str {
        self.0
    }
}

impl<'a> From<&'a RawValue> for RawJson<'a> {
    fn from(raw: &'a RawValue) -> RawJson<'a> {
        RawJson(raw.get())
    }
}

/// What an event holds of the keys of a [`KeyTree`].
#[derive(Debug)]
pub(crate) struct Found<'a> {
    values: Vec<Option<RawJson<'a>>>,
    /// The inner objects read so far, made on the first look inside one: most records (Log
    /// Analytics rows) are read at their top level only.
    children: OnceCell<Vec<OnceCell<Option<Found<'a>>>>>,
}

impl<'a> Found<'a> {
    /// The raw value at a slot path (from [`KeyTree::insert`]); inner objects are read on first use.
    pub(crate) fn at(&self, tree: &KeyTree, path: &[usize]) -> Option<RawJson<'a>> {
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
    type Value = Vec<Option<RawJson<'de>>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LevelSeed<'_> {
    type Value = Vec<Option<RawJson<'de>>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = vec![None; self.0.keys.len()];
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            // The last of duplicate keys wins, as in serde_json's own maps.
            match self.0.find(&key) {
                Some(slot) => {
                    values[slot] = Some(RawJson::from(map.next_value::<&'de RawValue>()?));
                }
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
        let get = |path: &[usize]| found.at(&tree, path).map(RawJson::get);
        assert_eq!(get(&time), Some("\"t\""));
        assert_eq!(get(&category), Some("\"RoleManagement\""));
        assert_eq!(get(&upn), Some("\"a@b\""));
        let found = tree
            .read(r#"{"properties":"not an object","time":1,"time":2}"#)
            .unwrap();
        assert!(found.at(&tree, &category).is_none());
        assert_eq!(
            found.at(&tree, &time).map(RawJson::get),
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

    /// The keys and values a read finds, or its error as serde_json words it (with its place).
    fn outcome(tree: &KeyTree, read: Result<Found, serde_json::Error>) -> Result<String, String> {
        let found = read.map_err(|e| e.to_string())?;
        let mut seen = String::new();
        for slot in 0..tree.keys.len() {
            let mut path = vec![slot];
            seen += &format!("{:?}; ", found.at(tree, &path).map(RawJson::get));
            for inner in 0..tree.children[slot].keys.len() {
                path.push(inner);
                seen += &format!("{:?}; ", found.at(tree, &path).map(RawJson::get));
                path.pop();
            }
        }
        Ok(seen)
    }

    fn tree_of_a_few_keys() -> KeyTree {
        let mut tree = KeyTree::default();
        for path in [
            &["time"][..],
            &["properties", "category"],
            &["properties", "x"],
            &["a"],
            &["é"],
            &[""],
        ] {
            tree.insert(path);
        }
        tree
    }

    /// A JSON value as text, with escapes, odd numbers, whitespace and repeated keys (which a
    /// `serde_json::Value` would not keep).
    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let string = proptest::collection::vec(
            prop_oneof![
                "[a-z0-9 é☃\u{7f}]{1,12}",
                Just(r#"\""#.to_owned()),
                Just(r"\\".to_owned()),
                Just(r"\/".to_owned()),
                Just(r"\n".to_owned()),
                Just(r"\u00e9".to_owned()),
                Just(r"\uD800".to_owned()),
                Just(r"\u0074".to_owned()),
            ],
            0..4,
        )
        .prop_map(|parts| format!("\"{}\"", parts.concat()));
        let leaf = prop_oneof![
            string.clone(),
            prop_oneof![
                Just("0"),
                Just("-0"),
                Just("12"),
                Just("-3.25"),
                Just("1e5"),
                Just("6.02E+23"),
                Just("1.5e-7"),
                Just("true"),
                Just("false"),
                Just("null"),
            ]
            .prop_map(str::to_owned),
        ];
        let space = prop_oneof![Just(""), Just(""), Just(" "), Just("\n\t"), Just("\r\n ")];
        let key = prop_oneof![
            Just("\"time\"".to_owned()),
            Just("\"properties\"".to_owned()),
            Just("\"category\"".to_owned()),
            Just("\"a\"".to_owned()),
            Just("\"é\"".to_owned()),
            Just("\"\"".to_owned()),
            Just(r#""ti\u006de""#.to_owned()),
            Just(r#""\u0061""#.to_owned()),
            string,
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec((inner.clone(), space.clone()), 0..6).prop_map(|items| {
                    let items: Vec<String> = items
                        .into_iter()
                        .map(|(v, s)| format!("{s}{v}{s}"))
                        .collect();
                    format!("[{}]", items.join(","))
                }),
                proptest::collection::vec((key.clone(), inner, space.clone()), 0..6).prop_map(
                    |members| {
                        let members: Vec<String> = members
                            .into_iter()
                            .map(|(k, v, s)| format!("{s}{k}{s}:{s}{v}{s}"))
                            .collect();
                        format!("{{{}}}", members.join(","))
                    }
                ),
            ]
        })
    }

    /// A text broken in one place (or not at all): a byte that JSON gives a meaning to, or
    /// none, put in, taken out or put instead, or the text cut short.
    fn broken(text: &str, at: usize, how: usize, with: usize) -> String {
        const BYTES: [char; 18] = [
            '"', '\\', ',', ':', '{', '}', '[', ']', ' ', '\u{1}', '\t', '\u{1f}', 'x', '0', '-',
            '.', 'e', 'u',
        ];
        let mut chars: Vec<char> = text.chars().collect();
        let at = at % (chars.len() + 1);
        let with = BYTES[with % BYTES.len()];
        match how % 5 {
            0 => chars.insert(at, with),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            2 if at < chars.len() => chars[at] = with,
            3 => chars.truncate(at),
            _ => {}
        }
        chars.into_iter().collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// The quick walk finds what serde_json finds, and every text it cannot be sure of (an
        /// error anywhere, an escaped key) is read by serde_json, whose error is reported.
        #[test]
        fn a_read_finds_and_fails_exactly_as_serde_json(
            text in json_text(),
            at in 0usize..10_000,
            how in 0usize..6,
            with in 0usize..100,
        ) {
            let tree = tree_of_a_few_keys();
            let text = broken(&text, at, how, with);
            for text in [text.clone(), format!("{{\"properties\":{text},\"a\":{text}}}")] {
                let quick = outcome(&tree, tree.read(&text));
                let serde = outcome(&tree, tree.read_with_serde_json(&text));
                proptest::prop_assert_eq!(&quick, &serde, "{}", text);
                if walk::members(&text, |_, _| Some(())).is_some() {
                    proptest::prop_assert!(serde_json::from_str::<IgnoredAny>(&text).is_ok());
                }
            }
        }
    }

    #[test]
    fn the_walk_reads_ordinary_records_without_serde_json() {
        let text = r#"{"time": "2025-01-01T00:00:00Z", "a": [1, {"b": null}], "properties": {"category": "RoleManagement", "x": -1.5e3}, "other": "\"quoted\""}"#;
        let mut found = Vec::new();
        assert!(
            walk::members(text, |key, value| {
                found.push((key, value));
                Some(())
            })
            .is_some()
        );
        assert_eq!(
            found,
            [
                ("time", r#""2025-01-01T00:00:00Z""#),
                ("a", r#"[1, {"b": null}]"#),
                (
                    "properties",
                    r#"{"category": "RoleManagement", "x": -1.5e3}"#
                ),
                ("other", r#""\"quoted\"""#),
            ]
        );
        // What the walk leaves to serde_json: an escaped key, a control character in a
        // string, nesting deeper than it follows.
        for unsure in [
            r#"{"ti\u006de": 1}"#.to_owned(),
            "{\"a\": \"\u{1}\"}".to_owned(),
            format!("{{\"a\": {}{}}}", "[".repeat(200), "]".repeat(200)),
        ] {
            assert!(
                walk::members(&unsure, |_, _| Some(())).is_none(),
                "{unsure}"
            );
            assert_eq!(
                outcome(&tree_of_a_few_keys(), tree_of_a_few_keys().read(&unsure)),
                outcome(
                    &tree_of_a_few_keys(),
                    tree_of_a_few_keys().read_with_serde_json(&unsure)
                )
            );
        }
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
