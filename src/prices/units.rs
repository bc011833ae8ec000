//! What can be counted and priced: one table of units, each with its usage field, its price key, what its price is
//! per (a million tokens, a thousand calls, an hour) and its dimensions.
//!
//! Dimensions make a hierarchy: a unit whose dimensions include another's is a part of it (cache reads are part of
//! input tokens; cached audio is part of both cache reads and audio input). Pricing splits usage into leaves the
//! way genai-prices does (`decompose.py`): for the units a price sheet prices, most specific first, each leaf is
//! the unit's count minus the leaves of its priced descendants. Tokens of an unpriced unit therefore stay in the
//! nearest priced ancestor (audio input with no audio price is charged as input).
//!
//! This file is also compiled into `build.rs` (to validate price files), so it uses nothing outside `std`.

/// A dimension value of a unit; units compare by these sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    Tokens,
    Characters,
    Messages,
    Durations,
    DocumentPages,
    ToolCalls,
    Requests,
    Input,
    Output,
    CacheRead,
    CacheWrite,
    Ttl1h,
    Reasoning,
    Citation,
    Audio,
    Image,
    Video,
    Annotated,
    WebSearch,
    StorageSearch,
}

/// One countable, priceable unit.
#[derive(Debug)]
pub struct Unit {
    /// Field name in `Usage` (and the count column name in tables).
    pub usage_field: &'static str,
    /// Key of its price in a price sheet (and in the price files).
    pub price_key: &'static str,
    /// The price is per this many of the unit (1,000,000 tokens, 1,000 calls, 3,600 seconds).
    pub per: u64,
    pub dims: &'static [Dim],
    /// Whether the count is part of the prompt (input) total, the output total, or neither.
    pub side: Side,
    /// Words for `explain()`.
    pub label: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Input,
    Output,
    Other,
}

use Dim::*;

const MTOK: u64 = 1_000_000;

/// Every unit, in the order of the `Usage` fields. Indexes into this table are unit ids.
/// Names and hierarchy follow genai-prices' unit registry (data_units.py, MIT), with tokenprice's field names:
/// `cache_write_tokens` are 5-minute writes, `cache_write_1h_tokens` 1-hour ones.
pub const UNITS: &[Unit] = &[
    Unit {
        usage_field: "input_tokens",
        price_key: "input_per_mtok",
        per: MTOK,
        dims: &[Tokens, Input],
        side: Side::Input,
        label: "input tokens",
    },
    Unit {
        usage_field: "output_tokens",
        price_key: "output_per_mtok",
        per: MTOK,
        dims: &[Tokens, Output],
        side: Side::Output,
        label: "output tokens",
    },
    Unit {
        usage_field: "cache_read_tokens",
        price_key: "cache_read_per_mtok",
        per: MTOK,
        dims: &[Tokens, Input, CacheRead],
        side: Side::Input,
        label: "cache-read tokens",
    },
    // All cache writes (5-minute + 1-hour); its price is the 5-minute (default) write price. Internal: its count
    // is derived from the two write fields below.
    Unit {
        usage_field: "cache_write_tokens",
        price_key: "cache_write_per_mtok",
        per: MTOK,
        dims: &[Tokens, Input, CacheWrite],
        side: Side::Input,
        label: "cache-write tokens (5 min)",
    },
    Unit {
        usage_field: "cache_write_1h_tokens",
        price_key: "cache_write_1h_per_mtok",
        per: MTOK,
        dims: &[Tokens, Input, CacheWrite, Ttl1h],
        side: Side::Input,
        label: "cache-write tokens (1 h)",
    },
    Unit {
        usage_field: "reasoning_tokens",
        price_key: "reasoning_per_mtok",
        per: MTOK,
        dims: &[Tokens, Output, Reasoning],
        side: Side::Output,
        label: "reasoning tokens",
    },
    Unit {
        usage_field: "citation_tokens",
        price_key: "citation_per_mtok",
        per: MTOK,
        dims: &[Tokens, Output, Citation],
        side: Side::Output,
        label: "citation tokens",
    },
    Unit {
        usage_field: "input_audio_tokens",
        price_key: "input_audio_per_mtok",
        per: MTOK,
        dims: &[Tokens, Input, Audio],
        side: Side::Input,
        label: "audio input tokens",
    },
    Unit {
        usage_field: "output_audio_tokens",
        price_key: "output_audio_per_mtok",
        per: MTOK,
        dims: &[Tokens, Output, Audio],
        side: Side::Output,
        label: "audio output tokens",
    },
    Unit {
        usage_field: "cache_audio_read_tokens",
        price_key: "cache_audio_read_per_mtok",
        per: MTOK,
        dims: &[Tokens, Input, CacheRead, Audio],
        side: Side::Input,
        label: "cached audio input tokens",
    },
    Unit {
        usage_field: "input_image_tokens",
        price_key: "input_image_per_mtok",
        per: MTOK,
        dims: &[Tokens, Input, Image],
        side: Side::Input,
        label: "image input tokens",
    },
    Unit {
        usage_field: "output_image_tokens",
        price_key: "output_image_per_mtok",
        per: MTOK,
        dims: &[Tokens, Output, Image],
        side: Side::Output,
        label: "image output tokens",
    },
    Unit {
        usage_field: "cache_image_read_tokens",
        price_key: "cache_image_read_per_mtok",
        per: MTOK,
        dims: &[Tokens, Input, CacheRead, Image],
        side: Side::Input,
        label: "cached image input tokens",
    },
    Unit {
        usage_field: "input_video_tokens",
        price_key: "input_video_per_mtok",
        per: MTOK,
        dims: &[Tokens, Input, Video],
        side: Side::Input,
        label: "video input tokens",
    },
    Unit {
        usage_field: "output_video_tokens",
        price_key: "output_video_per_mtok",
        per: MTOK,
        dims: &[Tokens, Output, Video],
        side: Side::Output,
        label: "video output tokens",
    },
    Unit {
        usage_field: "input_characters",
        price_key: "input_per_mchars",
        per: MTOK,
        dims: &[Characters, Input],
        side: Side::Other,
        label: "input characters",
    },
    Unit {
        usage_field: "input_text_messages",
        price_key: "input_text_messages_per_k",
        per: 1000,
        dims: &[Messages, Input],
        side: Side::Other,
        label: "input text messages",
    },
    Unit {
        usage_field: "audio_seconds",
        price_key: "audio_per_hour",
        per: 3600,
        dims: &[Durations, Audio],
        side: Side::Other,
        label: "seconds of audio",
    },
    Unit {
        usage_field: "input_audio_seconds",
        price_key: "input_audio_per_hour",
        per: 3600,
        dims: &[Durations, Audio, Input],
        side: Side::Other,
        label: "seconds of audio input",
    },
    Unit {
        usage_field: "input_document_pages",
        price_key: "input_document_pages_per_k",
        per: 1000,
        dims: &[DocumentPages, Input],
        side: Side::Other,
        label: "document pages",
    },
    Unit {
        usage_field: "input_annotated_document_pages",
        price_key: "input_annotated_document_pages_per_k",
        per: 1000,
        dims: &[DocumentPages, Input, Annotated],
        side: Side::Other,
        label: "annotated document pages",
    },
    Unit {
        usage_field: "web_searches",
        price_key: "web_searches_per_k",
        per: 1000,
        dims: &[ToolCalls, WebSearch],
        side: Side::Other,
        label: "web searches",
    },
    Unit {
        usage_field: "storage_searches",
        price_key: "storage_searches_per_k",
        per: 1000,
        dims: &[ToolCalls, StorageSearch],
        side: Side::Other,
        label: "file searches",
    },
    Unit {
        usage_field: "requests",
        price_key: "requests_per_k",
        per: 1000,
        dims: &[Requests],
        side: Side::Other,
        label: "requests",
    },
];

pub const N_UNITS: usize = UNITS.len();

pub const INPUT: usize = 0;
pub const OUTPUT: usize = 1;
pub const CACHE_READ: usize = 2;
pub const CACHE_WRITE: usize = 3;
pub const CACHE_WRITE_1H: usize = 4;
pub const REASONING: usize = 5;
pub const INPUT_AUDIO: usize = 7;
pub const CACHE_AUDIO_READ: usize = 9;
pub const INPUT_IMAGE: usize = 10;
pub const CACHE_IMAGE_READ: usize = 12;
pub const REQUESTS: usize = N_UNITS - 1;

/// For each unit, the total it is a part of (INPUT or OUTPUT), if any: what `Usage::validate` checks.
pub const WHOLE_OF: [Option<usize>; N_UNITS] = {
    let mut out = [None; N_UNITS];
    let mut u = 0;
    while u < N_UNITS {
        out[u] = match UNITS[u].side {
            Side::Input if u != INPUT => Some(INPUT),
            Side::Output if u != OUTPUT => Some(OUTPUT),
            _ => None,
        };
        u += 1;
    }
    out
};

/// The unit id of a price key, if it is one.
pub fn unit_of_price_key(key: &str) -> Option<usize> {
    UNITS.iter().position(|u| u.price_key == key)
}

/// The unit id of a usage field, if it is one.
pub fn unit_of_usage_field(field: &str) -> Option<usize> {
    UNITS.iter().position(|u| u.usage_field == field)
}

/// Whether unit `b` is `a` or a part of it (its dimensions include all of `a`'s).
pub fn is_descendant_or_self(a: usize, b: usize) -> bool {
    UNITS[a].dims.iter().all(|d| UNITS[b].dims.contains(d))
}

/// How one price sheet splits usage into leaves: for each priced unit, most specific first, the positions (in
/// this list) of its priced descendants, whose leaves are subtracted from it. Computed once per sheet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeafPlan {
    /// (unit, positions of its priced descendants), most specific first.
    pub steps: Vec<(usize, Vec<usize>)>,
}

impl LeafPlan {
    pub fn new(priced: &[usize]) -> LeafPlan {
        let mut order: Vec<usize> = priced.to_vec();
        order.sort_by_key(|u| (std::cmp::Reverse(UNITS[*u].dims.len()), UNITS[*u].usage_field));
        let steps = order
            .iter()
            .map(|&u| {
                let below = (0..order.len()).filter(|&j| order[j] != u && is_descendant_or_self(u, order[j])).collect();
                (u, below)
            })
            .collect();
        LeafPlan { steps }
    }

    /// Leaf counts for `counts` (indexed by unit) into `out` (indexed by step position; descendants come before
    /// the units they are part of, so every read slot was written). Returns the unit whose leaf would be
    /// negative if the usage is inconsistent with this split (its parts add up to more than it).
    #[inline]
    pub fn leaves(&self, counts: &[u64; N_UNITS], out: &mut [u64; N_UNITS]) -> Result<(), usize> {
        for (pos, (u, descendants)) in self.steps.iter().enumerate() {
            let mut leaf = counts[*u] as i128;
            for d in descendants {
                leaf -= out[*d] as i128;
            }
            if leaf < 0 {
                return Err(*u);
            }
            out[pos] = leaf as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, u) in UNITS.iter().enumerate() {
            assert_eq!(unit_of_price_key(u.price_key), Some(i));
            assert_eq!(unit_of_usage_field(u.usage_field), Some(i));
            assert!(u.per > 0);
        }
        assert_eq!(UNITS[INPUT].usage_field, "input_tokens");
        assert_eq!(UNITS[CACHE_WRITE_1H].usage_field, "cache_write_1h_tokens");
        assert_eq!(UNITS[REQUESTS].usage_field, "requests");
        assert_eq!(UNITS[INPUT_AUDIO].usage_field, "input_audio_tokens");
        assert_eq!(UNITS[CACHE_AUDIO_READ].usage_field, "cache_audio_read_tokens");
        assert_eq!(UNITS[INPUT_IMAGE].usage_field, "input_image_tokens");
        assert_eq!(UNITS[CACHE_IMAGE_READ].usage_field, "cache_image_read_tokens");
    }

    #[test]
    fn hierarchy() {
        let f = |n: &str| unit_of_usage_field(n).unwrap();
        assert!(is_descendant_or_self(f("input_tokens"), f("cache_read_tokens")));
        assert!(is_descendant_or_self(f("cache_read_tokens"), f("cache_audio_read_tokens")));
        assert!(is_descendant_or_self(f("input_audio_tokens"), f("cache_audio_read_tokens")));
        assert!(is_descendant_or_self(f("cache_write_tokens"), f("cache_write_1h_tokens")));
        assert!(!is_descendant_or_self(f("output_tokens"), f("cache_read_tokens")));
        assert!(!is_descendant_or_self(f("input_tokens"), f("input_characters")));
    }

    #[test]
    fn leaves_subtract_priced_parts_only() {
        let mut counts = [0u64; N_UNITS];
        counts[INPUT] = 1000;
        counts[CACHE_READ] = 600;
        counts[CACHE_WRITE] = 300; // all writes
        counts[CACHE_WRITE_1H] = 100;
        let by_unit = |plan: &LeafPlan| {
            let mut out = [0u64; N_UNITS];
            plan.leaves(&counts, &mut out).unwrap();
            let mut units = [0u64; N_UNITS];
            for (pos, (u, _)) in plan.steps.iter().enumerate() {
                units[*u] = out[pos];
            }
            units
        };
        let out = by_unit(&LeafPlan::new(&[INPUT, CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H]));
        assert_eq!((out[INPUT], out[CACHE_READ], out[CACHE_WRITE], out[CACHE_WRITE_1H]), (100, 600, 200, 100));
        // No 1-hour price: all writes at the write price.
        let out = by_unit(&LeafPlan::new(&[INPUT, CACHE_READ, CACHE_WRITE]));
        assert_eq!((out[INPUT], out[CACHE_WRITE]), (100, 300));
        // No cache prices at all: everything is input.
        assert_eq!(by_unit(&LeafPlan::new(&[INPUT]))[INPUT], 1000);
        // Parts larger than the whole.
        counts[CACHE_READ] = 2000;
        assert_eq!(LeafPlan::new(&[INPUT, CACHE_READ]).leaves(&counts, &mut [0; N_UNITS]), Err(INPUT));
    }
}
