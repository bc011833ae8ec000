//! Closest names: what an "unknown model" error suggests, for the tokenizer table (`tokens`) and the price book
//! (`prices`) alike. Only error paths use it, so it favours plainness over speed.

/// The edit distance (Levenshtein) between two strings, in characters.
///
/// ```
/// use tokenprice::names::levenshtein;
/// assert_eq!(levenshtein("gpt4o", "gpt-4o"), 1);
/// assert_eq!(levenshtein("kitten", "sitting"), 3);
/// ```
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The candidates closest to `target` (already normalised by the caller, e.g. lower case), nearest first and by
/// name among equals, each once: at most `n`, and only those within half the target's length in edits (at least
/// 3). Candidates are compared in ASCII lower case and returned as given.
///
/// ```
/// use tokenprice::names::closest;
/// let known = ["gpt-4o", "gpt-4o-mini", "GPT-4.1", "o3"];
/// assert_eq!(closest("gpt4o-mini", known, 1), ["gpt-4o-mini"]);
/// assert_eq!(closest("gpt-4.1", known, 1), ["GPT-4.1"]); // compared in lower case, returned as given
/// assert!(closest("claude-3-haiku", known, 3).is_empty()); // nothing within 7 edits
/// ```
pub fn closest<'a>(target: &str, candidates: impl IntoIterator<Item = &'a str>, n: usize) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> =
        candidates.into_iter().map(|name| (levenshtein(target, &name.to_ascii_lowercase()), name)).collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    let max_distance = (target.chars().count() / 2).max(3);
    scored.into_iter().filter(|(d, _)| *d <= max_distance).take(n).map(|(_, name)| name.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_characters_not_bytes() {
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("é", "e"), 1);
        assert_eq!(levenshtein("same", "same"), 0);
    }

    #[test]
    fn closest_names_are_nearest_first_each_once_and_reasonably_close() {
        let known = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-sonnet-4-5", "gpt-4o"];
        assert_eq!(closest("claude-sonnet-45", known, 3), ["claude-sonnet-4-5", "claude-opus-4-1"]);
        // Equal distances: by name.
        assert_eq!(closest("ab", ["ac", "aa", "ad"], 2), ["aa", "ac"]);
        // Short targets still get up to 3 edits, no more.
        assert_eq!(closest("o1", ["o3", "o1-x", "gpt-4o"], 5), ["o3", "o1-x"]);
        assert!(closest("x", ["abcdef"], 1).is_empty());
    }
}
