//! Pricing one usage: usage → leaves (by the sheet's plan) → items (count × price, exact) → `Cost`, which can
//! say in words how every number was reached.

pub mod columns;
pub mod estimate;
pub mod linear;
pub mod record;
pub mod table;
pub mod table_input;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::money::{format_usd, Factor};
use crate::prices::book::{EffectiveSheet, FastPlan, PriceBook};
use crate::prices::calendar::{format_date, format_moment, MICROS_PER_DAY};
use crate::prices::units::{Side, INPUT, N_UNITS, UNITS};
use crate::usage::Usage;

/// One line of a cost: a unit's count (after its priced parts were taken out) times its price.
#[derive(Clone, Debug, PartialEq)]
pub struct CostItem {
    pub unit: usize,
    pub count: u64,
    pub factor: Factor,
    /// The long-context threshold crossed, if the price came from a step above one.
    pub threshold: Option<u64>,
    /// The amount, in 10^-18 USD.
    pub amount: i128,
}

impl CostItem {
    pub fn field(&self) -> &'static str {
        UNITS[self.unit].usage_field
    }

    pub fn price_key(&self) -> &'static str {
        UNITS[self.unit].price_key
    }
}

/// The cost of one usage, with everything needed to explain it.
#[derive(Clone, Debug)]
pub struct Cost {
    /// In 10^-18 USD (exact).
    pub total: i128,
    pub items: Vec<CostItem>,
    pub sheet: Arc<EffectiveSheet>,
    pub book: Arc<PriceBook>,
    pub at_micros: i64,
    pub usage: Usage,
    /// Further billed steps on other models (a record's parts); `total` includes them, `items` holds this
    /// part's own items (see [`Cost::all_items`]).
    pub others: Vec<Cost>,
    /// Why the total is zero whatever the usage (a gateway cache hit), if it is.
    pub waived: Option<String>,
    /// How many costs this one is the sum of (1 for one call; see [`Cost::sum`]).
    pub calls: u64,
}

/// Splits `usage` into leaves and prices each one with `sheet`. The arithmetic shared by one request and by
/// tables: returns the total and calls `item` for each priced leaf.
#[inline]
pub fn compute(sheet: &EffectiveSheet, counts: &[u64; N_UNITS], mut item: impl FnMut(CostItem)) -> Result<i128> {
    let mut leaves = [0u64; N_UNITS];
    if let Err(u) = sheet.plan.leaves(counts, &mut leaves) {
        return Err(Error::InvalidUsage {
            field: UNITS[u].usage_field.to_string(),
            message: format!("its parts add up to more than {} = {}", UNITS[u].usage_field, counts[u]),
        });
    }
    let prompt = counts[INPUT];
    let mut total: i128 = 0;
    for (pos, (u, _)) in sheet.plan.steps.iter().enumerate() {
        let point = sheet.prices[*u].as_ref().expect("the plan lists priced units");
        let (factor, threshold) = point.at(prompt);
        let count = leaves[pos];
        let amount = factor.cost(count).ok_or_else(|| Error::Overflow(format!("{count} {}", UNITS[*u].usage_field)))?;
        total = total.checked_add(amount).ok_or_else(|| Error::Overflow("total cost".into()))?;
        item(CostItem { unit: *u, count, factor: *factor, threshold, amount });
    }
    Ok(total)
}

/// [`compute`] for a sheet's [`FastPlan`]: the same leaves and amounts with plain integer arithmetic. Returns
/// `None` if the usage is inconsistent with the plan (then [`compute`] says why) or an amount would not fit.
#[inline]
pub fn compute_fast(plan: &FastPlan, counts: &[u64; N_UNITS], mut item: impl FnMut(usize, i128)) -> Option<i128> {
    let mut leaves = [0u64; N_UNITS];
    let prompt = counts[INPUT];
    let mut total: u128 = 0;
    for (pos, step) in plan.steps.iter().enumerate() {
        let mut leaf = counts[step.unit];
        for d in &step.descendants[..step.n_descendants as usize] {
            leaf = leaf.checked_sub(leaves[*d as usize])?;
        }
        leaves[pos] = leaf;
        let mut price = step.base;
        for (threshold, p) in step.above[..step.n_above as usize].iter().rev() {
            if prompt > *threshold {
                price = *p;
                break;
            }
        }
        let amount = leaf as u128 * price as u128; // 64 × 64 bits: cannot overflow u128
        total = total.checked_add(amount)?;
        item(step.unit, amount as i128);
    }
    i128::try_from(total).ok()
}

/// Prices `usage` for model index `mi` at `at_micros` (UTC), in `tier` and `region`.
pub fn price_model(
    book: &Arc<PriceBook>,
    usage: &Usage,
    mi: usize,
    at_micros: i64,
    tier: Option<&str>,
    region: Option<&str>,
) -> Result<Cost> {
    let sheet = book.sheet_for(mi, at_micros, tier, region)?;
    price_sheet(book, sheet, usage, at_micros)
}

/// Prices `usage` with a sheet already chosen (by [`PriceBook::sheet_for`]) for the instant `at_micros`.
pub fn price_sheet(book: &Arc<PriceBook>, sheet: Arc<EffectiveSheet>, usage: &Usage, at_micros: i64) -> Result<Cost> {
    let counts = usage.unit_counts();
    let mut items = Vec::with_capacity(sheet.plan.steps.len());
    let total = compute(&sheet, &counts, |item| {
        if item.count > 0 {
            items.push(item);
        }
    })?;
    // Items in the unit table's order (input, output, cache, ...), which reads best.
    items.sort_by_key(|i| i.unit);
    Ok(Cost {
        total,
        items,
        sheet,
        book: book.clone(),
        at_micros,
        usage: *usage,
        others: Vec::new(),
        waived: None,
        calls: 1,
    })
}

/// Prices `usage` for a model name (and provider, if given), at `at_micros` (UTC).
///
/// ```
/// use tokenprice::cost::price;
/// use tokenprice::money::amount_text;
/// use tokenprice::prices::PriceBook;
/// use tokenprice::usage::Usage;
///
/// let book = PriceBook::default_book();
/// let usage = Usage::from_fields([("input_tokens", 1_000_000)]).unwrap();
/// let june_2025 = 1_750_000_000_000_000; // microseconds since the epoch
/// let cost = price(&book, &usage, "gpt-4o", None, june_2025, None, None).unwrap();
/// assert_eq!(amount_text(cost.total), "2.5"); // $2.50 per million input tokens
/// assert_eq!(cost.total, cost.items.iter().map(|item| item.amount).sum::<i128>());
/// ```
#[allow(clippy::too_many_arguments)]
pub fn price(
    book: &Arc<PriceBook>,
    usage: &Usage,
    model: &str,
    provider: Option<&str>,
    at_micros: i64,
    tier: Option<&str>,
    region: Option<&str>,
) -> Result<Cost> {
    let mi = book.resolve(model, provider)?;
    price_model(book, usage, mi, at_micros, tier, region)
}

/// The line of `explain()` saying where the entry's prices came from, when its book records it.
fn provenance(entry: &crate::prices::book::Entry) -> Option<String> {
    let mut parts: Vec<String> = entry.origin.iter().map(|o| format!("from {o}")).collect();
    parts.extend(entry.source_date.map(|d| format!("page copy of {}", format_moment(d))));
    parts.extend(entry.checked.map(|d| format!("checked {}", format_moment(d))));
    (!parts.is_empty()).then(|| format!("Provenance: {}.\n", parts.join("; ")))
}

/// Whether two sections were priced on the same sheet (same book, model, entry, tier, region, window) and both
/// charged or both waived: then they add up line by line.
fn same_sheet(a: &Cost, b: &Cost) -> bool {
    Arc::ptr_eq(&a.book, &b.book)
        && a.sheet.model == b.sheet.model
        && a.sheet.entry == b.sheet.entry
        && a.sheet.tier == b.sheet.tier
        && a.sheet.region == b.sheet.region
        && a.sheet.window == b.sheet.window
        && a.waived.is_some() == b.waived.is_some()
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Cost {
    /// The items of every part.
    pub fn all_items(&self) -> impl Iterator<Item = &CostItem> {
        self.items.iter().chain(self.others.iter().flat_map(|o| o.items.iter()))
    }

    /// The sum of the items of every part on one side (the prompt's, cache and audio/image input included; or the
    /// output's), in 10^-18 USD.
    pub fn side_total(&self, side: Side) -> i128 {
        self.all_items().filter(|i| UNITS[i.unit].side == side).map(|i| i.amount).sum()
    }

    pub fn model_id(&self) -> &str {
        &self.book.models[self.sheet.model].id
    }

    pub fn provider_id(&self) -> &str {
        &self.book.providers[self.book.models[self.sheet.model].provider].id
    }

    /// When the price entry used took effect (microseconds since the epoch), if it has a date.
    pub fn effective_from(&self) -> Option<i64> {
        self.book.models[self.sheet.model].entries[self.sheet.entry].from
    }

    pub fn source(&self) -> Option<&str> {
        self.entry().source.as_deref()
    }

    /// Where the price entry used came from (`hand`, `genai-prices 0.2.5`, ...), if its book says.
    pub fn origin(&self) -> Option<&str> {
        self.entry().origin.as_deref()
    }

    fn entry(&self) -> &crate::prices::book::Entry {
        &self.book.models[self.sheet.model].entries[self.sheet.entry]
    }

    /// The sum of two costs, exact: one section per price sheet (model, entry, tier, region), each with its
    /// usage and items added up (an item per unit and price: calls on both sides of a long-context threshold keep
    /// their own lines), and `calls` the number of costs summed. A gateway cache hit stays a section of its own, at
    /// zero. The sections' order is first seen, first listed; the total is the sum of the totals.
    pub fn sum(&self, other: &Cost) -> Result<Cost> {
        let mut sections = self.sections();
        for section in other.sections() {
            match sections.iter_mut().find(|s| same_sheet(s, &section)) {
                Some(s) => s.absorb(&section)?,
                None => sections.push(section),
            }
        }
        let total = self.total.checked_add(other.total).ok_or_else(|| Error::Overflow("total cost".into()))?;
        let calls = self.calls.saturating_add(other.calls);
        let mut first = sections.remove(0);
        first.others = sections;
        first.total = total;
        first.calls = calls;
        Ok(first)
    }

    /// A sum put together again from its [`sections`](Cost::sections) (how a sum is pickled): each one a plain
    /// cost on its sheet, with its own items and calls; the total is the sum of the sections' items.
    pub fn from_sections(sections: Vec<Cost>) -> Result<Cost> {
        let mut sections = sections.into_iter();
        let Some(mut first) = sections.next() else {
            return Err(Error::InvalidArgument("a sum of costs has at least one section".into()));
        };
        let others: Vec<Cost> = sections.collect();
        let mut total: i128 = 0;
        let mut calls: u64 = 0;
        for s in std::iter::once(&first).chain(&others) {
            if !s.others.is_empty() {
                return Err(Error::InvalidArgument("a section of a sum is a plain cost, without parts".into()));
            }
            total = total.checked_add(s.total).ok_or_else(|| Error::Overflow("total cost".into()))?;
            calls = calls.saturating_add(s.calls);
        }
        first.others = others;
        first.total = total;
        first.calls = calls;
        Ok(first)
    }

    /// A section of a sum restored (see [`Cost::from_sections`]): this plain cost's sheet, book, time and usage
    /// with the given items (which need not be what its usage prices to: a sum's calls may fall on both sides of a
    /// long-context threshold), `calls`, and waived (a gateway cache hit: no items, zero) or not.
    pub fn with_items(mut self, items: Vec<CostItem>, calls: u64, waived: Option<String>) -> Result<Cost> {
        if let Some(bad) = items.iter().find(|i| i.unit >= N_UNITS || i.factor.den <= 0) {
            return Err(Error::InvalidArgument(format!(
                "a cost item with unit {} and price {}/{}: not a unit of the table or not a price",
                bad.unit, bad.factor.num, bad.factor.den
            )));
        }
        if waived.is_some() && !items.is_empty() {
            return Err(Error::InvalidArgument("a waived section has no items".into()));
        }
        let mut total: i128 = 0;
        for i in &items {
            total = total.checked_add(i.amount).ok_or_else(|| Error::Overflow("total cost".into()))?;
        }
        self.items = items;
        self.total = total;
        self.calls = calls;
        self.waived = waived;
        self.others.clear();
        Ok(self)
    }

    /// The sections of a cost, each one sheet's own items and usage (a plain cost per sheet).
    pub fn sections(&self) -> Vec<Cost> {
        let mut first = self.clone();
        let others = std::mem::take(&mut first.others);
        // The top level's `calls` counts every section's; its own are what the others do not count.
        first.calls = self.calls.saturating_sub(others.iter().map(|o| o.calls).sum());
        let mut out = Vec::with_capacity(others.len() + 1);
        for mut c in std::iter::once(first).chain(others) {
            c.total = c.items.iter().map(|i| i.amount).sum();
            c.others.clear();
            out.push(c);
        }
        out
    }

    /// Adds a section priced on the same sheet: its usage, its items (merged by unit and price) and its calls.
    fn absorb(&mut self, other: &Cost) -> Result<()> {
        self.usage.add(&other.usage)?;
        for item in &other.items {
            match self.items.iter_mut().find(|i| i.unit == item.unit && i.factor == item.factor) {
                Some(i) => {
                    i.count = i.count.checked_add(item.count).ok_or_else(|| Error::Overflow("item count".into()))?;
                    i.amount = i.amount.checked_add(item.amount).ok_or_else(|| Error::Overflow("item".into()))?;
                }
                None => self.items.push(item.clone()),
            }
        }
        self.items.sort_by_key(|i| i.unit);
        self.total = self.total.checked_add(other.total).ok_or_else(|| Error::Overflow("total cost".into()))?;
        self.calls = self.calls.saturating_add(other.calls);
        Ok(())
    }

    /// How the total was reached, in words: the price entry chosen and why, then one line per item; for a
    /// record billed on several models, one such section per model; for a sum of costs, one per price sheet.
    pub fn explain(&self) -> String {
        if self.calls > 1 {
            return self.explain_sum();
        }
        if let Some(why) = &self.waived {
            return format!("{why}\nTotal: {}", format_usd(self.total));
        }
        if self.others.is_empty() {
            return self.explain_one();
        }
        let mut out = String::new();
        let mut first = self.clone();
        first.others.clear();
        first.total = first.items.iter().map(|i| i.amount).sum();
        for (k, part) in std::iter::once(&first).chain(self.others.iter()).enumerate() {
            out.push_str(&format!("Part {}: ", k + 1));
            out.push_str(&part.explain_one());
            out.push('\n');
        }
        out.push_str(&format!("Total of {} parts: {}", self.others.len() + 1, format_usd(self.total)));
        out
    }

    fn explain_sum(&self) -> String {
        let sections = self.sections();
        let mut out = format!("Sum of {} costs, {} price sheet(s):\n", self.calls, sections.len());
        for (k, s) in sections.iter().enumerate() {
            out.push_str(&format!("Sheet {} ({} calls): ", k + 1, s.calls));
            match &s.waived {
                Some(why) => out.push_str(&format!("{why}\nTotal: {}", format_usd(0))),
                None => out.push_str(&s.explain_one()),
            }
            out.push('\n');
        }
        out.push_str(&format!("Total of {} costs: {}", self.calls, format_usd(self.total)));
        out
    }

    fn explain_one(&self) -> String {
        let model = &self.book.models[self.sheet.model];
        let provider = &self.book.providers[model.provider];
        let entry = &model.entries[self.sheet.entry];
        let day = self.at_micros.div_euclid(MICROS_PER_DAY);
        let mut out = format!(
            "{} ({}) on {}: price entry {}{}.\n",
            model.id,
            provider.name,
            format_date(day),
            entry
                .from
                .map_or_else(|| "from the model's first price".to_string(), |d| format!("from {}", format_moment(d))),
            entry.source.as_ref().map(|s| format!(" (source: {s})")).unwrap_or_default(),
        );
        if let Some(line) = provenance(entry) {
            out.push_str(&line);
        }
        if self.sheet.tier != "standard" {
            out.push_str(&format!("Service tier: {}.\n", self.sheet.tier));
        }
        for d in &self.sheet.derivation {
            out.push_str(&format!("{d}.\n"));
        }
        let counts = self.usage.unit_counts();
        for item in &self.items {
            let unit = &UNITS[item.unit];
            let parts: Vec<String> = self
                .sheet
                .plan
                .steps
                .iter()
                .find(|(u, _)| *u == item.unit)
                .map(|(_, d)| {
                    let parts = d.iter().map(|pos| self.sheet.plan.steps[*pos].0);
                    parts.filter(|p| counts[*p] > 0).map(|p| UNITS[p].label.to_string()).collect()
                })
                .unwrap_or_default();
            let count_text = if parts.is_empty() || counts[item.unit] == item.count {
                format!("{} {}", thousands(item.count), unit.label)
            } else {
                format!(
                    "{} {} (of {}, less {} priced separately)",
                    thousands(item.count),
                    unit.label,
                    thousands(counts[item.unit]),
                    parts.join(", ")
                )
            };
            let per = match unit.per {
                1_000_000 if unit.label.contains("tokens") => "per million tokens".to_string(),
                1_000_000 => "per million".to_string(),
                1000 => "per 1,000".to_string(),
                3600 => "per hour".to_string(),
                other => format!("per {other}"),
            };
            let tier_text =
                item.threshold.map(|t| format!(" (prompt over {} tokens)", thousands(t))).unwrap_or_default();
            out.push_str(&format!(
                "  {count_text} × ${} {per}{tier_text} = {}\n",
                item.factor.per_units(unit.per).map_or_else(|e| e.to_string(), |p| p.to_string()),
                format_usd(item.amount)
            ));
        }
        if self.items.is_empty() {
            out.push_str("  nothing to charge\n");
        }
        out.push_str(&format!("Total: {}", format_usd(self.total)));
        out
    }
}
