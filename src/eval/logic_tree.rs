//! A boolean tree with short-circuit evaluation, over selections (a detection's condition) or
//! over field matches (its pre-filter).

#[derive(Debug, Clone)]
pub(crate) enum LogicTree<T> {
    Leaf(T),
    Not(Box<LogicTree<T>>),
    And(Vec<LogicTree<T>>),
    Or(Vec<LogicTree<T>>),
}

impl<T> LogicTree<T> {
    pub(crate) fn evaluate(&self, leaf: &mut impl FnMut(&T) -> bool) -> bool {
        match self {
            LogicTree::Leaf(t) => leaf(t),
            LogicTree::Not(inner) => !inner.evaluate(leaf),
            LogicTree::And(items) => items.iter().all(|i| i.evaluate(leaf)),
            LogicTree::Or(items) => items.iter().any(|i| i.evaluate(leaf)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_and_short_circuits() {
        let tree = LogicTree::And(vec![LogicTree::Leaf(false), LogicTree::Leaf(true)]);
        let mut seen = Vec::new();
        assert!(!tree.evaluate(&mut |b| {
            seen.push(*b);
            *b
        }));
        assert_eq!(seen, [false], "`and` stops at the first false");
        let tree = LogicTree::Or(vec![
            LogicTree::Leaf(false),
            LogicTree::Not(Box::new(LogicTree::Leaf(false))),
        ]);
        assert!(tree.evaluate(&mut |b| *b));
    }
}
