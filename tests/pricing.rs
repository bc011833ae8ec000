//! Golden cases for every price feature and each provider's stacking rule, on small literal books; property
//! tests for the arithmetic; and the table engine against one-at-a-time pricing.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, Int64Array, StringArray, TimestampMicrosecondArray};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;
use tokenprice::cost::table::{price_table, TableInput, TableOptions};
use tokenprice::cost::{price, Cost};
use tokenprice::money::amount_text;
use tokenprice::prices::calendar::parse_instant;
use tokenprice::prices::schema::provider_from_value;
use tokenprice::prices::units::Side;
use tokenprice::prices::PriceBook;
use tokenprice::usage::Usage;
use xorshift::xorshift;

#[path = "common/xorshift.rs"]
mod xorshift;

fn book(providers: Vec<serde_json::Value>) -> Arc<PriceBook> {
    let defs = providers.iter().map(|p| provider_from_value(p, "test").unwrap()).collect();
    Arc::new(PriceBook::from_defs(defs, "test").unwrap())
}

fn openai() -> serde_json::Value {
    json!({
        "schema": 1, "id": "openai", "name": "OpenAI", "owns": [{"starts_with": "gpt-"}, {"regex": "^o[1-9]"}],
        "id_prefixes": ["openai/"], "aliases": ["azure_openai_test"],
        "service_tiers": {"aliases": {"default": "standard", "auto": "standard"},
                          "batch": {"multiplier": "0.5"}, "flex": {"same_as": "batch"}, "priority": {}},
        "models": [
            {"id": "gpt-4o", "match": ["gpt-4o", {"starts_with": "gpt-4o-2024-"}], "prices": [
                {"input_per_mtok": "5", "output_per_mtok": "15"},
                {"from": "2024-10-01", "source": "https://openai.com/api/pricing/",
                 "input_per_mtok": "2.5", "output_per_mtok": "10", "cache_read_per_mtok": "1.25",
                 "web_searches_per_k": "25",
                 "priority": {"input_per_mtok": "4.25", "output_per_mtok": "17"}}
            ]},
            {"id": "o3", "prices": [
                {"input_per_mtok": "10", "output_per_mtok": "40", "cache_read_per_mtok": "2.5"},
                {"from": "2025-06-10", "input_per_mtok": "2", "output_per_mtok": "8", "cache_read_per_mtok": "0.5",
                 "batch": {"input_per_mtok": "1", "output_per_mtok": "4"}}
            ]}
        ]
    })
}

fn anthropic() -> serde_json::Value {
    json!({
        "schema": 1, "id": "anthropic", "name": "Anthropic", "owns": [{"contains": "claude"}],
        "service_tiers": {"batch": {"multiplier": "0.5"}, "fast": {}},
        "regions": {"us": {"multiplier": "1.1", "from": "2026-01-01"}},
        "models": [
            {"id": "claude-sonnet-4-5", "match": ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929"], "prices": [{
                "input_per_mtok": {"base": "3", "above": [{"tokens": 200000, "price": "6"}]},
                "output_per_mtok": {"base": "15", "above": [{"tokens": 200000, "price": "22.5"}]},
                "cache_read_per_mtok": {"base": "0.3", "above": [{"tokens": 200000, "price": "0.6"}]},
                "cache_write_per_mtok": {"base": "3.75", "above": [{"tokens": 200000, "price": "7.5"}]},
                "cache_write_1h_per_mtok": {"base": "6", "above": [{"tokens": 200000, "price": "12"}]},
                "web_searches_per_k": "10",
                "fast": {"input_per_mtok": "18", "output_per_mtok": "90"}
            }]},
            {"id": "claude-free-preview", "prices": [{"input_per_mtok": "0", "output_per_mtok": "0"}]}
        ]
    })
}

fn deepseek() -> serde_json::Value {
    json!({
        "schema": 1, "id": "deepseek", "owns": [{"starts_with": "deepseek"}],
        "models": [{"id": "deepseek-chat", "prices": [
            {"input_per_mtok": "0.27", "output_per_mtok": "1.1", "cache_read_per_mtok": "0.07",
             "windows": [{"start": "16:30", "end": "00:30", "utc_offset": "UTC", "until": "2025-09-05",
                          "input_per_mtok": "0.135", "output_per_mtok": "0.55", "cache_read_per_mtok": "0.035"}]},
            {"from": "2025-09-05", "input_per_mtok": "0.56", "output_per_mtok": "1.68", "cache_read_per_mtok": "0.07"}
        ]}]
    })
}

fn all() -> Arc<PriceBook> {
    book(vec![openai(), anthropic(), deepseek()])
}

fn at(s: &str) -> i64 {
    parse_instant(s).unwrap()
}

fn usage(fields: &[(&str, u64)]) -> Usage {
    Usage::from_fields(fields.iter().copied()).unwrap()
}

fn cost(b: &Arc<PriceBook>, u: &Usage, model: &str, when: &str, tier: Option<&str>) -> Cost {
    price(b, u, model, None, at(when), tier, None).unwrap()
}

fn usd(c: &Cost) -> String {
    amount_text(c.total)
}

#[test]
fn dated_price_changes() {
    let b = all();
    let u = usage(&[("input_tokens", 1_000_000), ("output_tokens", 1_000_000)]);
    assert_eq!(usd(&cost(&b, &u, "o3", "2025-06-09T23:59:59Z", None)), "50");
    assert_eq!(usd(&cost(&b, &u, "o3", "2025-06-10T00:00:00Z", None)), "10");
    assert_eq!(usd(&cost(&b, &u, "gpt-4o-2024-08-06", "2024-09-30", None)), "20");
    let c = cost(&b, &u, "openai/gpt-4o", "2024-10-01", None);
    assert_eq!(usd(&c), "12.5");
    assert_eq!(c.source(), Some("https://openai.com/api/pricing/"));
    assert!(c.explain().contains("price entry from 2024-10-01"), "{}", c.explain());
}

#[test]
fn side_totals_split_the_total_into_input_and_output() {
    let b = all();
    let u = usage(&[("input_tokens", 2422), ("cache_read_tokens", 2304), ("output_tokens", 120)]);
    let c = cost(&b, &u, "gpt-4o", "2025-01-01", None);
    // Input: 118 × 2.5 + 2304 × 1.25 = 3175 per million; output: 120 × 10 = 1200 per million.
    assert_eq!(amount_text(c.side_total(Side::Input)), "0.003175");
    assert_eq!(amount_text(c.side_total(Side::Output)), "0.0012");
    assert_eq!(c.side_total(Side::Other), 0);
}

#[test]
fn an_entry_is_in_force_from_its_date_until_the_next_entrys() {
    let b = all();
    let o3 = b.resolve("o3", None).unwrap();
    let (first, second) = (b.entry_index(o3, at("2025-06-09")).unwrap(), b.entry_index(o3, at("2025-06-10")).unwrap());
    assert_eq!((first, second), (0, 1));
    assert_eq!(b.entry_until(o3, first), Some(at("2025-06-10")));
    assert_eq!(b.entry_until(o3, second), None, "the latest entry is in force until a later one is known");
}

#[test]
fn cache_reads_are_not_charged_twice_and_ttls_have_their_own_prices() {
    let b = all();
    // OpenAI: prompt_tokens includes cached tokens.
    let u = usage(&[("input_tokens", 2422), ("cache_read_tokens", 2304), ("output_tokens", 120)]);
    let c = cost(&b, &u, "gpt-4o", "2025-01-01", None);
    // 118 × 2.5 + 2304 × 1.25 + 120 × 10 = 295 + 2880 + 1200 per million
    assert_eq!(usd(&c), "0.004375");
    assert_eq!(
        c.items.iter().map(|i| (i.field(), i.count)).collect::<Vec<_>>(),
        vec![("input_tokens", 118), ("output_tokens", 120), ("cache_read_tokens", 2304)]
    );
    // Anthropic: 5-minute and 1-hour writes at their own prices.
    let u = usage(&[
        ("input_tokens", 10_000),
        ("cache_read_tokens", 2000),
        ("cache_write_tokens", 3000),
        ("cache_write_1h_tokens", 4000),
        ("output_tokens", 500),
    ]);
    let c = cost(&b, &u, "claude-sonnet-4-5", "2025-10-01", None);
    // 1000×3 + 2000×0.3 + 3000×3.75 + 4000×6 + 500×15 = 3000 + 600 + 11250 + 24000 + 7500 = 46350 per M
    assert_eq!(usd(&c), "0.04635");
}

#[test]
fn long_context_reprices_the_whole_request_cache_included() {
    let b = all();
    let small = usage(&[("input_tokens", 200_000), ("cache_read_tokens", 100_000), ("output_tokens", 1000)]);
    let big = usage(&[("input_tokens", 200_001), ("cache_read_tokens", 100_000), ("output_tokens", 1000)]);
    // 100,000×3 + 100,000×0.3 + 1000×15 = 345,000 per M
    assert_eq!(usd(&cost(&b, &small, "claude-sonnet-4-5", "2025-10-01", None)), "0.345");
    // 100,001×6 + 100,000×0.6 + 1000×22.5 = 682,506 per M
    let c = cost(&b, &big, "claude-sonnet-4-5", "2025-10-01", None);
    assert_eq!(usd(&c), "0.682506");
    assert!(c.explain().contains("prompt over 200,000 tokens"), "{}", c.explain());
}

#[test]
fn time_of_day_window_with_its_own_end_date() {
    let b = all();
    let u = usage(&[("input_tokens", 1_000_000), ("output_tokens", 1_000_000)]);
    assert_eq!(usd(&cost(&b, &u, "deepseek-chat", "2025-03-01T12:00:00Z", None)), "1.37");
    assert_eq!(usd(&cost(&b, &u, "deepseek-chat", "2025-03-01T17:00:00Z", None)), "0.685"); // off-peak
    assert_eq!(usd(&cost(&b, &u, "deepseek-chat", "2025-03-02T00:29:59Z", None)), "0.685");
    assert_eq!(usd(&cost(&b, &u, "deepseek-chat", "2025-03-02T00:30:00Z", None)), "1.37");
    // The window ended with the 2025-09-05 price change.
    assert_eq!(usd(&cost(&b, &u, "deepseek-chat", "2025-09-04T17:00:00Z", None)), "0.685");
    assert_eq!(usd(&cost(&b, &u, "deepseek-chat", "2025-09-05T17:00:00Z", None)), "2.24");
    let c = cost(&b, &u, "deepseek-chat", "2025-03-01T17:00:00Z", None);
    assert!(c.explain().contains("time-of-day window 16:30–00:30"), "{}", c.explain());
}

#[test]
fn openai_stacking_batch_flex_priority() {
    let b = all();
    let u = usage(&[("input_tokens", 1_000_000), ("cache_read_tokens", 400_000), ("output_tokens", 1_000_000)]);
    // Standard: 600k×2.5 + 400k×1.25 + 1M×10 = 12.0
    assert_eq!(usd(&cost(&b, &u, "gpt-4o", "2025-01-01", None)), "12");
    assert_eq!(usd(&cost(&b, &u, "gpt-4o", "2025-01-01", Some("default"))), "12");
    // Batch: no sheet for gpt-4o → OpenAI's rule, × 0.5 → 6.0; flex is priced as batch.
    assert_eq!(usd(&cost(&b, &u, "gpt-4o", "2025-01-01", Some("batch"))), "6");
    assert_eq!(usd(&cost(&b, &u, "gpt-4o", "2025-01-01", Some("flex"))), "6");
    // o3 has a batch sheet: listed prices, the rest × 0.5: 600k×1 + 400k×0.25 + 1M×4 = 4.7
    assert_eq!(usd(&cost(&b, &u, "o3", "2025-07-01", Some("batch"))), "4.7");
    // Priority: its own sheet; unlisted cache reads at the standard price (no priority multiplier).
    assert_eq!(usd(&cost(&b, &u, "gpt-4o", "2025-01-01", Some("priority"))), "20.05"); // 600k×4.25+400k×1.25+1M×17
    let err = price(&b, &u, "o3", None, at("2025-07-01"), Some("priority"), None).unwrap_err();
    assert!(err.to_string().contains("no \"priority\" price for o3"), "{err}");
    let err = price(&b, &u, "gpt-4o", None, at("2025-07-01"), Some("turbo"), None).unwrap_err();
    assert!(err.to_string().contains("service tier \"turbo\""), "{err}");
}

#[test]
fn anthropic_stacking_batch_times_cache_times_long_context_and_region() {
    let b = all();
    let u = usage(&[
        ("input_tokens", 300_000),
        ("cache_read_tokens", 100_000),
        ("cache_write_tokens", 50_000),
        ("output_tokens", 10_000),
    ]);
    // Long context (prompt > 200k): 150k×6 + 100k×0.6 + 50k×7.5 + 10k×22.5 = 900000+60000+375000+225000 = 1,560,000 per M
    assert_eq!(usd(&cost(&b, &u, "claude-sonnet-4-5", "2025-10-01", None)), "1.56");
    // Batch multiplies everything, cache and long context included: half.
    assert_eq!(usd(&cost(&b, &u, "claude-sonnet-4-5", "2025-10-01", Some("batch"))), "0.78");
    // Fast mode is a provider-declared tier with its own sheet: 150k×18 + (cache at standard) + 10k×90.
    let fast = cost(&b, &u, "claude-sonnet-4-5", "2025-10-01", Some("fast"));
    assert_eq!(usd(&fast), "4.035"); // 2.7 + 0.06 + 0.375 + 0.9
                                     // Region surcharge from 2026-01-01 only.
    let us = price(&b, &u, "claude-sonnet-4-5", None, at("2026-02-01"), Some("batch"), Some("us")).unwrap();
    assert_eq!(usd(&us), "0.858");
    let before = price(&b, &u, "claude-sonnet-4-5", None, at("2025-12-01"), None, Some("us")).unwrap();
    assert_eq!(usd(&before), "1.56");
}

#[test]
fn tool_fees_zero_prices_and_zero_usage() {
    let b = all();
    let u = usage(&[("input_tokens", 1000), ("output_tokens", 100), ("web_searches", 3)]);
    // 1000×3 + 100×15 per M + 3 × $10/1000
    assert_eq!(usd(&cost(&b, &u, "claude-sonnet-4-5", "2025-10-01", None)), "0.0345");
    // Batch halves token prices, not the per-search fee: 0.0045 / 2 + 0.03
    assert_eq!(usd(&cost(&b, &u, "claude-sonnet-4-5", "2025-10-01", Some("batch"))), "0.03225");
    let free = cost(&b, &u, "claude-free-preview", "2025-10-01", None);
    assert_eq!(free.total, 0);
    assert_eq!(usd(&cost(&b, &Usage::default(), "gpt-4o", "2025-01-01", None)), "0");
}

#[test]
fn overrides_discounts_and_resolution_errors() {
    let mut b = PriceBook::from_defs(
        vec![provider_from_value(&openai(), "t").unwrap(), provider_from_value(&anthropic(), "t").unwrap()],
        "t",
    )
    .unwrap();
    let openai_i = b.provider_by_name("openai").unwrap();
    b.set_multiplier(openai_i, None, Decimal::new(8, 1));
    let gpt = b.resolve("gpt-4o", None).unwrap();
    b.set_multiplier(openai_i, Some(gpt), Decimal::new(5, 1));
    let b = Arc::new(b);
    let u = usage(&[("input_tokens", 1_000_000)]);
    assert_eq!(usd(&cost(&b, &u, "gpt-4o", "2025-01-01", None)), "1"); // 2.5 × 0.8 × 0.5
    assert_eq!(usd(&cost(&b, &u, "o3", "2025-07-01", None)), "1.6"); // 2 × 0.8
    let err = b.resolve("gpt-4o-mnii", Some("anthropic")).unwrap_err();
    assert!(
        err.to_string().contains("no price is known for model \"gpt-4o-mnii\" from provider \"anthropic\""),
        "{err}"
    );
    let err = b.resolve("gpt-4o", Some("nope")).unwrap_err();
    assert!(err.to_string().contains("unknown provider \"nope\""), "{err}");
    let err = b.resolve("claude-sonet-4-5", None).unwrap_err();
    assert!(err.to_string().contains("claude-sonnet-4-5"), "suggests the close name: {err}");
    assert_eq!(b.resolve("anthropic/claude-sonnet-4-5", None).unwrap(), b.resolve("claude-sonnet-4-5", None).unwrap());
    assert_eq!(
        b.resolve("us.anthropic.claude-sonnet-4-5-20250929-v1:0", Some("anthropic")).unwrap(),
        b.resolve("claude-sonnet-4-5", None).unwrap()
    );
    assert_eq!(b.resolve("GPT-4o-2024-11-20", Some("azure_openai_test")).unwrap(), gpt);
}

#[test]
fn schema_errors_name_the_field() {
    let mut bad = openai();
    bad["models"][0]["prices"][0]["input_per_mtok"] = json!("-1");
    let err = provider_from_value(&bad, "prices/openai.toml").unwrap_err().to_string();
    assert_eq!(
        err,
        "prices/openai.toml: models[0] (gpt-4o).prices[0].input_per_mtok: -1 is negative; prices are never negative"
    );
    let mut bad = openai();
    bad["models"][1]["prices"][1]["from"] = json!("2024-01-01");
    bad["models"][1]["prices"][0]["from"] = json!("2024-06-01");
    let err = provider_from_value(&bad, "p").unwrap_err().to_string();
    assert!(err.contains("not after the previous entry's 2024-06-01"), "{err}");
    let mut bad = openai();
    bad["models"][1]["match"] = json!(["gpt-4o"]);
    let err = provider_from_value(&bad, "p").unwrap_err().to_string();
    assert!(err.contains("\"gpt-4o\" also names model"), "{err}");
    let mut bad = openai();
    bad["models"][0]["prices"][0]["input_per_mtok"] = json!(2.5);
    let err = provider_from_value(&bad, "p").unwrap_err().to_string();
    assert!(err.contains("not a float"), "{err}");
    let mut bad = deepseek();
    bad["models"][0]["prices"][0]["windows"] = json!([
        {"start": "00:00", "end": "02:00", "input_per_mtok": "1"},
        {"start": "01:00", "end": "03:00", "input_per_mtok": "1"}]);
    let err = provider_from_value(&bad, "p").unwrap_err().to_string();
    assert!(err.contains("overlap"), "{err}");
}

/// Regex rules are compiled when a name first needs them: a bad one is still refused when the book is read, and
/// a good one matches names in any case (the book's own rules too, which the build checked).
#[test]
fn regex_rules_are_checked_at_reading_and_match_later() {
    let mut bad = openai();
    bad["owns"] = json!([{"regex": "^o[1-9"}]);
    let err = provider_from_value(&bad, "p").unwrap_err().to_string();
    assert!(err.contains("owns[0].regex: invalid regex"), "{err}");
    // Definitions that skipped the check (as the embedded book's do, which the build checked) are still checked
    // when a book is made of them.
    let unchecked = tokenprice::prices::schema::provider_checked_at_build(&bad, "p").unwrap();
    let err = PriceBook::from_defs(vec![unchecked], "p").unwrap_err().to_string();
    assert!(err.contains("regex \"^o[1-9\""), "{err}");
    let mut good = openai();
    good["models"][1]["match"] = json!(["o3", {"regex": "^o3\\[[a-z]+\\]$"}]);
    let b = book(vec![good]);
    let o3 = b.resolve("o3", None).unwrap();
    assert_eq!(b.resolve("O3[Turbo]", None).unwrap(), o3);
    assert!(b.resolve("o3[turbo", None).is_err());
    // The embedded book: a name only a regex rule of prices/openai.toml matches.
    let default = PriceBook::default_book();
    let fast = default.resolve("Composer-2.5[fast=true]", Some("cursor")).unwrap();
    assert_eq!(default.models[fast].id, "composer-2.5-fast");
}

#[allow(clippy::too_many_arguments)]
fn table_row_costs(
    b: &Arc<PriceBook>,
    models: Vec<&str>,
    times: Vec<i64>,
    inputs: Vec<i64>,
    cached: Vec<i64>,
    outputs: Vec<i64>,
    tiers: Vec<Option<&str>>,
    hits: Vec<bool>,
) -> arrow_array::RecordBatch {
    let model: ArrayRef = Arc::new(StringArray::from(models));
    let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC"));
    let tier: ArrayRef = Arc::new(StringArray::from(tiers));
    let hit: ArrayRef = Arc::new(BooleanArray::from(hits));
    let cols: Vec<(usize, ArrayRef, String)> = vec![
        (0, Arc::new(Int64Array::from(inputs)) as ArrayRef, "input_tokens".to_string()),
        (2, Arc::new(Int64Array::from(cached)) as ArrayRef, "cache_read_tokens".to_string()),
        (1, Arc::new(Int64Array::from(outputs)) as ArrayRef, "output_tokens".to_string()),
    ];
    let counts = cols.iter().map(|(u, a, name)| (*u, a, name.clone())).collect();
    let input = TableInput {
        timestamp: Some(&ts),
        service_tier: Some(&tier),
        cache_hit: Some(&hit),
        ..TableInput::new(&model, counts)
    };
    let itemized = price_table(b, &input, &TableOptions { itemized: true, as_float: false, threads: Some(2) }).unwrap();
    assert_same_totals(&itemized, &price_table(b, &input, &TableOptions::default()).unwrap());
    itemized
}

/// Two pricings of one table agree row by row: total (or null) and status. Itemized tables are priced by the
/// general path only; plain ones mostly by the fast (linear) pass, so this compares the two.
fn assert_same_totals(a: &arrow_array::RecordBatch, b: &arrow_array::RecordBatch) {
    for name in ["total_cost", "status", "priced_model", "price_from"] {
        let (x, y) = (a.column_by_name(name).unwrap(), b.column_by_name(name).unwrap());
        if x.to_data() != y.to_data() {
            let row = (0..x.len()).find(|r| x.slice(*r, 1).to_data() != y.slice(*r, 1).to_data()).unwrap();
            panic!("{name} differs at row {row}: {:?} vs {:?}", x.slice(row, 1), y.slice(row, 1));
        }
    }
}

/// Many random rows over the default book (every model, dates from 2023 to 2026, counts of every size, some
/// breaking the counts' rule or above a trillion tokens, cache writes of both TTLs, input with and without cache),
/// priced by the table engine's fast pass and by its general path: the same total or the same reason, row by row;
/// and a sample of rows against one `price()` call each.
#[test]
fn fast_table_pricing_equals_the_general_path_on_random_rows() {
    let b = PriceBook::default_book();
    let names: Vec<&str> = b.models.iter().map(|m| m.id.as_str()).collect();
    let mut random = xorshift(0x9E37_79B9_7F4A_7C15);
    let mut next = move |m: u64| random() % m;
    let rows = 60_000;
    let start = at("2023-01-01");
    let span = at("2026-12-31") - start;
    let count = |scale: u64, next: &mut dyn FnMut(u64) -> u64| -> i64 {
        match next(50) {
            0 => 0,
            1 => (1u64 << 41) as i64, // above MAX_COUNT: the general path
            _ => next(scale.max(1)) as i64,
        }
    };
    let (mut model, mut ts, mut cols) = (Vec::new(), Vec::new(), vec![Vec::new(); 5]);
    for _ in 0..rows {
        model.push(names[next(names.len() as u64) as usize]);
        ts.push(start + next(span as u64) as i64);
        let input = count(1_500_000, &mut next);
        for (c, v) in cols.iter_mut().enumerate() {
            v.push(match c {
                0 => input,
                // Parts: mostly within the input, sometimes not.
                1..=3 => count((input.max(1) as u64) / 3 + next(2) * 1000, &mut next),
                _ => count(50_000, &mut next),
            });
        }
    }
    let model: ArrayRef = Arc::new(StringArray::from(model));
    let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC"));
    let arrays: Vec<ArrayRef> = cols.into_iter().map(|v| Arc::new(Int64Array::from(v)) as ArrayRef).collect();
    // input, cache read, cache write (5 min), cache write (1 h), output
    let units = [0, 2, 3, 4, 1];
    let field = ["input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens"];
    for (excludes, columns) in [(false, vec![0, 1, 4]), (false, vec![0, 1, 2, 3, 4]), (true, vec![0, 1, 2, 4])] {
        let counts = columns.iter().map(|c| (units[*c], &arrays[*c], field[*c].to_string())).collect();
        let input =
            TableInput { timestamp: Some(&ts), input_excludes_cache: excludes, ..TableInput::new(&model, counts) };
        let general =
            price_table(&b, &input, &TableOptions { itemized: true, as_float: false, threads: Some(2) }).unwrap();
        let fast = price_table(&b, &input, &TableOptions { threads: Some(2), ..Default::default() }).unwrap();
        assert_same_totals(&general, &fast);
        let (priced, rejected) = tokenprice::cost::table::counts_of(&fast);
        assert!(priced > rows / 3 && rejected > rows / 20, "{priced} priced, {rejected} rejected");
        let total = fast.column_by_name("total_cost").unwrap();
        let total = total.as_any().downcast_ref::<arrow_array::Decimal128Array>().unwrap();
        let (m, t) = (model.as_any().downcast_ref::<StringArray>().unwrap(), ts.as_any());
        let t = t.downcast_ref::<TimestampMicrosecondArray>().unwrap();
        for row in (0..rows).step_by(97) {
            let mut u = Usage::default();
            for c in &columns {
                u.counts[units[*c]] = arrays[*c].as_any().downcast_ref::<Int64Array>().unwrap().value(row) as u64;
            }
            if excludes {
                let k = &mut u.counts;
                k[0] = k[0].saturating_add(k[2]).saturating_add(k[3]).saturating_add(k[4]);
            }
            let single = u.validate().and_then(|_| price(&b, &u, m.value(row), None, t.value(row), None, None));
            match single {
                Ok(c) => assert_eq!(total.value(row), c.total, "row {row}"),
                Err(_) => assert!(total.is_null(row), "row {row} priced, but one call fails"),
            }
        }
    }
}

#[test]
fn table_rows_are_priced_like_single_calls_or_rejected_with_a_reason() {
    let b = all();
    let batch = table_row_costs(
        &b,
        vec!["gpt-4o", "o3", "unknown-model-x", "claude-sonnet-4-5", "gpt-4o", "deepseek-chat", "gpt-4o"],
        vec![
            at("2025-01-01"),
            at("2025-07-01"),
            at("2025-07-01"),
            at("2025-10-01"),
            at("2025-01-01"),
            at("2025-03-01T17:00:00Z"),
            at("2025-01-01"),
        ],
        vec![1000, 2000, 10, 300_000, 10, 1_000_000, -5],
        vec![200, 0, 0, 100_000, 20, 0, 0],
        vec![100, 50, 1, 10, 1, 1_000_000, 0],
        vec![None, Some("batch"), None, None, None, None, None],
        vec![false, false, false, false, false, false, false],
    );
    let total = batch.column_by_name("total_cost").unwrap();
    let total = total.as_any().downcast_ref::<arrow_array::Decimal128Array>().unwrap();
    let status = batch.column_by_name("status").unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
    let single = |model: &str, when: &str, fields: &[(&str, u64)], tier: Option<&str>| {
        cost(&b, &usage(fields), model, when, tier).total
    };
    assert_eq!(
        total.value(0),
        single(
            "gpt-4o",
            "2025-01-01",
            &[("input_tokens", 1000), ("cache_read_tokens", 200), ("output_tokens", 100)],
            None
        )
    );
    assert_eq!(
        total.value(1),
        single("o3", "2025-07-01", &[("input_tokens", 2000), ("output_tokens", 50)], Some("batch"))
    );
    assert!(total.is_null(2) && status.value(2).contains("no price is known for model \"unknown-model-x\""));
    assert_eq!(
        total.value(3),
        single(
            "claude-sonnet-4-5",
            "2025-10-01",
            &[("input_tokens", 300_000), ("cache_read_tokens", 100_000), ("output_tokens", 10)],
            None
        )
    );
    assert!(total.is_null(4) && status.value(4).contains("cache_read_tokens = 20 is more than input_tokens = 10"));
    assert_eq!(amount_text(total.value(5)), "0.685");
    assert!(total.is_null(6) && status.value(6).starts_with("input_tokens = -"));
    assert!(status.value(6).ends_with("is negative (counts are never negative)"));
    let (priced, rejected) = tokenprice::cost::table::counts_of(&batch);
    assert_eq!((priced, rejected), (4, 3));
    // Itemized columns add up to the total.
    let items: Vec<&arrow_array::Decimal128Array> = ["input_cost", "cache_read_cost", "output_cost", "requests_cost"]
        .iter()
        .map(|n| batch.column_by_name(n).unwrap().as_any().downcast_ref::<arrow_array::Decimal128Array>().unwrap())
        .collect();
    for row in [0, 1, 3, 5] {
        assert_eq!(items.iter().map(|c| c.value(row)).sum::<i128>(), total.value(row));
    }
}

#[test]
fn gateway_cache_hits_cost_nothing() {
    let b = all();
    let batch = table_row_costs(
        &b,
        vec!["gpt-4o"],
        vec![at("2025-01-01")],
        vec![1000],
        vec![0],
        vec![10],
        vec![None],
        vec![true],
    );
    let total = batch
        .column_by_name("total_cost")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::Decimal128Array>()
        .unwrap()
        .value(0);
    assert_eq!(total, 0);
}

proptest! {
    #[test]
    fn items_sum_to_the_total_and_more_tokens_never_cost_less(
        cached in 0u64..300_000, extra in 0u64..300_000, writes in 0u64..50_000, out in 0u64..100_000, grow in 1u64..500_000,
        model in prop::sample::select(vec!["gpt-4o", "o3", "claude-sonnet-4-5", "deepseek-chat"]),
        when in prop::sample::select(vec!["2024-06-01", "2025-03-01T17:00:00Z", "2025-07-01", "2025-10-01"]),
    ) {
        let b = all();
        let input = cached + writes + extra;
        let u = usage(&[("input_tokens", input), ("cache_read_tokens", cached), ("cache_write_tokens", writes), ("output_tokens", out)]);
        let c = cost(&b, &u, model, when, None);
        prop_assert_eq!(c.items.iter().map(|i| i.amount).sum::<i128>(), c.total);
        // Growing the output total with its parts fixed never lowers the cost.
        let more_out = usage(&[("input_tokens", input), ("cache_read_tokens", cached), ("cache_write_tokens", writes), ("output_tokens", out + grow)]);
        prop_assert!(cost(&b, &more_out, model, when, None).total >= c.total);
        // Growing the input total (uncached part) never lowers it, long-context steps included.
        let more_in = usage(&[("input_tokens", input + grow), ("cache_read_tokens", cached), ("cache_write_tokens", writes), ("output_tokens", out)]);
        prop_assert!(cost(&b, &more_in, model, when, None).total >= c.total);
    }
}

#[test]
fn every_row_gets_its_own_reason_when_several_are_wrong() {
    let b = all();
    let model: ArrayRef = Arc::new(StringArray::from(vec!["nope", "gpt-4o", "gpt-4o", "gpt-4o", "gpt-4o"]));
    let ts: ArrayRef =
        Arc::new(StringArray::from(vec![Some("garbage"), Some("2025-01-01"), Some("bad"), Some("2025-01-01"), None]));
    let input_col: ArrayRef = Arc::new(Int64Array::from(vec![-1, -2, 5, 7, 9]));
    let counts = vec![(0usize, &input_col, "input_tokens".to_string())];
    let input = TableInput { timestamp: Some(&ts), ..TableInput::new(&model, counts) };
    let batch = price_table(&b, &input, &TableOptions::default()).unwrap();
    let status = batch.column_by_name("status").unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
    let got: Vec<Option<&str>> = status.iter().collect();
    assert!(got[0].unwrap().starts_with("no price is known for model \"nope\""), "{got:?}");
    assert_eq!(got[1], Some("input_tokens = -2 is negative (counts are never negative)"));
    assert!(got[2].unwrap().starts_with("timestamp: \"bad\" is not an ISO 8601"), "{got:?}");
    assert_eq!(got[3], None);
    assert_eq!(got[4], Some("no timestamp: pass default_at= to price rows without one"));
}

/// A random table over the default book (dated changes, DeepSeek's windows, long-context tiers, unknown models,
/// rows before a model's first price, parts above their whole) across several chunks: an all-null `service_tier`
/// column must price exactly like no column, row for row, rejects and their reasons included.
#[test]
fn null_tiers_price_like_no_tier_column_on_every_row() {
    let b = PriceBook::default_book();
    let models = [
        "gpt-4o",
        "gpt-4o-mini",
        "o3",
        "gpt-5",
        "claude-sonnet-4-5",
        "claude-3-5-haiku",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "deepseek-chat",
        "deepseek-reasoner",
        "mistral-large-latest",
        "no-such-model",
    ];
    let mut next = xorshift(0x2545_F491_4F6C_DD1D);
    let n = 100_000;
    let start = at("2023-01-01");
    let span = 1400 * 86_400_000_000i64;
    let (mut model, mut ts, mut input, mut cached, mut writes, mut output, mut reasoning) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        model.push(models[(next() % models.len() as u64) as usize]);
        ts.push(start + (next() % span as u64) as i64);
        let i = if next() % 10 == 0 { 200_000 + (next() % 900_000) as i64 } else { (next() % 20_000) as i64 };
        input.push(i);
        // Mostly valid parts; sometimes more than the whole, which the row's reason must name.
        let part = |r: u64, whole: i64| if r % 50 == 0 { whole + 1 } else { (r % (whole as u64 + 1)) as i64 };
        let c = if next() % 3 == 0 { part(next(), i) } else { 0 };
        cached.push(c);
        writes.push(if next() % 5 == 0 { part(next(), i - c.min(i)) } else { 0 });
        let o = (next() % 5000) as i64;
        output.push(o);
        reasoning.push(if next() % 4 == 0 { part(next(), o) } else { 0 });
    }
    let model: ArrayRef = Arc::new(StringArray::from(model));
    let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC"));
    let no_tier: ArrayRef = Arc::new(StringArray::from(vec![None::<&str>; n]));
    let reasoning_unit = tokenprice::prices::units::unit_of_usage_field("reasoning_tokens").unwrap();
    let counts: Vec<(usize, ArrayRef, &str)> = vec![
        (0, Arc::new(Int64Array::from(input)), "input_tokens"),
        (2, Arc::new(Int64Array::from(cached)), "cache_read_tokens"),
        (3, Arc::new(Int64Array::from(writes)), "cache_write_tokens"),
        (1, Arc::new(Int64Array::from(output)), "output_tokens"),
        (reasoning_unit, Arc::new(Int64Array::from(reasoning)), "reasoning_tokens"),
    ];
    let run = |tier: Option<&ArrayRef>| {
        let counts = counts.iter().map(|(u, a, name)| (*u, a, name.to_string())).collect();
        let input = TableInput { timestamp: Some(&ts), service_tier: tier, ..TableInput::new(&model, counts) };
        price_table(&b, &input, &TableOptions { itemized: true, as_float: false, threads: Some(2) }).unwrap()
    };
    let plain = run(None);
    let general = run(Some(&no_tier));
    assert_eq!(plain.schema(), general.schema());
    for (f, (p, g)) in plain.schema().fields().iter().zip(plain.columns().iter().zip(general.columns())) {
        assert_eq!(p.as_ref(), g.as_ref(), "column {} differs", f.name());
    }
    // The mix exercised every kind of row: priced, unknown model, before the first price, part above its whole.
    let status = plain.column_by_name("status").unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
    let reasons: Vec<&str> = status.iter().flatten().collect();
    let (priced, rejected) = tokenprice::cost::table::counts_of(&plain);
    assert_eq!(priced + rejected, n);
    assert!(priced > n / 2, "{priced} priced");
    for needle in ["no price is known for model", "is more than input_tokens", "is more than output_tokens"] {
        assert!(reasons.iter().any(|r| r.contains(needle)), "no reject says {needle:?}");
    }
}

/// `ultrafast` is in the tier vocabulary (OpenAI's fastest tier, `service_tier: "ultrafast"`,
/// https://developers.openai.com/api/docs/guides/ultrafast-mode): any provider's entry may carry a sheet for it
/// without declaring the tier, and a model without one says so instead of calling the tier unknown.
#[test]
fn ultrafast_is_a_tier_of_the_vocabulary() {
    let b = book(vec![json!({
        "schema": 1, "id": "openai", "name": "OpenAI",
        "models": [
            {"id": "gpt-6-astra", "prices": [{
                "input_per_mtok": "10", "output_per_mtok": "50",
                "ultrafast": {"input_per_mtok": "60", "output_per_mtok": "300"}}]},
            {"id": "gpt-4o", "prices": [{"input_per_mtok": "2.5", "output_per_mtok": "10"}]}
        ]
    })]);
    let u = usage(&[("input_tokens", 1_000_000), ("output_tokens", 1_000_000)]);
    assert_eq!(usd(&cost(&b, &u, "gpt-6-astra", "2026-11-01", Some("ultrafast"))), "360");
    let err = price(&b, &u, "gpt-4o", None, at("2026-11-01"), Some("ultrafast"), None).unwrap_err();
    assert!(err.to_string().contains("no \"ultrafast\" price for gpt-4o"), "{err}");
    // The default book: GPT-6 Astra at 6× its standard rates (LiteLLM 1.110.2's ultrafast sheet; OpenAI's guide):
    // 100k × 60 + 100k × 300 per million, and above 272K prompt tokens 6× the long-context rates (120 / 450).
    let default = PriceBook::default_book();
    let small = usage(&[("input_tokens", 100_000), ("output_tokens", 100_000)]);
    let astra = price(&default, &small, "gpt-6-astra", None, at("2026-11-01"), Some("ultrafast"), None).unwrap();
    assert_eq!((usd(&astra), astra.sheet.tier.as_str()), ("36".to_string(), "ultrafast"));
    let long = price(&default, &u, "gpt-6-astra", None, at("2026-11-01"), Some("ultrafast"), None).unwrap();
    assert_eq!(usd(&long), "570");
}

/// Provenance: an entry's `origin` is checked, a hand entry names its page and the date of the page copy, and the
/// repository's book refuses an entry without an origin, naming the file and the line of that entry.
#[test]
fn every_entry_says_where_it_came_from() {
    use tokenprice::prices::schema::{locate, missing_origin};
    let mut bad = openai();
    bad["models"][0]["prices"][0]["origin"] = json!("my notes");
    let err = provider_from_value(&bad, "p").unwrap_err().to_string();
    assert!(err.contains("models[0] (gpt-4o).prices[0].origin: \"my notes\" is not an origin"), "{err}");
    let mut bad = openai();
    bad["models"][0]["prices"][0]["origin"] = json!("hand");
    let err = provider_from_value(&bad, "p").unwrap_err().to_string();
    assert!(err.contains("needs \"source\" (the page) and \"source_date\""), "{err}");
    bad["models"][0]["prices"][0]["source"] = json!("https://openai.com/api/pricing/");
    bad["models"][0]["prices"][0]["source_date"] = json!("2024-10-01");
    provider_from_value(&bad, "p").unwrap();

    let text = r#"schema = 1
id = "x"

[[models]]
id = "m"

[[models.prices]]
origin = "genai-prices 0.2.5 + LiteLLM 1.110.2"
input_per_mtok = "1"

[[models.prices]]
from = "2025-01-01"
input_per_mtok = "2"
"#;
    let value = serde_json::to_value(toml::from_str::<toml::Value>(text).unwrap()).unwrap();
    let def = provider_from_value(&value, "prices/x.toml").unwrap();
    let err = missing_origin(&def).expect("the second entry has no origin");
    assert_eq!(
        locate(&err, text).split(": no \"origin\"").next().unwrap(),
        "prices/x.toml:11: models[0] (m).prices[1]"
    );

    // The embedded book: every entry has one, and hand entries their page copy's date.
    let book = PriceBook::default_book();
    for m in &book.models {
        for e in &m.entries {
            let origin = e.origin.as_deref().unwrap_or_else(|| panic!("{}: an entry without origin", m.id));
            if origin.split(" + ").any(|p| p == "hand") {
                assert!(e.source.is_some() && e.source_date.is_some(), "{}", m.id);
            }
        }
    }
    // o3's launch entry: genai-prices' prices with the hand-corrected cache price (Langfuse's change of 2025-06-10).
    let u = usage(&[("input_tokens", 1000), ("output_tokens", 100)]);
    let o3 = price(&book, &u, "o3", None, at("2025-05-01"), None, None).unwrap();
    assert_eq!(o3.origin(), Some("genai-prices 0.2.5 + hand"));
    let explained = o3.explain();
    assert!(
        explained.contains("Provenance: from genai-prices 0.2.5 + hand; page copy of 2025-06-10.\n"),
        "{explained}"
    );
}

/// A sum is put together again from its sections (what pickling a sum does): per sheet its items kept as they were
/// (calls on both sides of a long-context threshold keep their two lines, which pricing the summed usage again
/// would not give), and its calls.
#[test]
fn a_sum_is_rebuilt_from_its_sections() {
    let b = all();
    let short =
        cost(&b, &usage(&[("input_tokens", 1000), ("output_tokens", 10)]), "claude-sonnet-4-5", "2025-10-01", None);
    let long =
        cost(&b, &usage(&[("input_tokens", 300_000), ("output_tokens", 10)]), "claude-sonnet-4-5", "2025-10-01", None);
    let other = cost(&b, &usage(&[("input_tokens", 5000)]), "gpt-4o", "2025-10-01", None);
    let sum = short.sum(&long).unwrap().sum(&other).unwrap();
    assert_eq!((sum.calls, sum.others.len()), (3, 1));
    assert_eq!(sum.items.len(), 4); // input and output, each below and above 200k
    let sections = sum.sections();
    let again_priced = price(&b, &sections[0].usage, "claude-sonnet-4-5", None, at("2025-10-01"), None, None).unwrap();
    assert_ne!(again_priced.total, sections[0].total); // why the items are kept
    let rebuilt: Vec<Cost> = sections
        .iter()
        .map(|s| again_priced_or(&b, s).with_items(s.items.clone(), s.calls, s.waived.clone()).unwrap())
        .collect();
    let back = Cost::from_sections(rebuilt).unwrap();
    assert_eq!((back.total, back.calls, &back.items), (sum.total, sum.calls, &sum.items));
    assert_eq!(back.others[0].items, sum.others[0].items);
    assert_eq!(back.explain(), sum.explain());
    // Bad pieces are errors, never a wrong cost.
    assert!(Cost::from_sections(Vec::new()).is_err());
    let mut bad = sum.items.clone();
    bad[0].unit = 10_000;
    assert!(short.clone().with_items(bad, 1, None).is_err());
    assert!(short.clone().with_items(sum.items.clone(), 1, Some("waived".into())).is_err());
}

fn again_priced_or(b: &Arc<PriceBook>, section: &Cost) -> Cost {
    price(b, &section.usage, section.model_id(), None, section.at_micros, None, None).unwrap()
}
