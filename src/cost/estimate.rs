//! The cost of a request before it is sent: the prompt counted by the chat rules (`tokens::chat`) — with the
//! model's own tokenizer where it is public, marked approximate where it is not — and the output as a range, from
//! none to the limit the request sets (else what the model's context window leaves after the prompt) times the
//! choices it asks for (chat's `n`, Gemini's `candidateCount`; the prompt is billed once), with the cache assumed
//! cold (every prompt token at the input price).

use std::sync::Arc;

use serde_json::Value;

use super::{price_sheet, Cost};
use crate::error::{Error, Result};
use crate::prices::units::{INPUT, OUTPUT};
use crate::prices::PriceBook;
use crate::tokens::chat::{count_message_tokens, message_encoding, read_request, RequestApi};
use crate::tokens::get_encoding;
use crate::tokens::models::{lookup_model, ModelTokenizer, APPROXIMATION_ENCODING};
use crate::usage::Usage;

/// What a request will cost: `low` with no output, `high` with the output at its limit (`None` when neither the
/// request nor the book gives one).
#[derive(Clone, Debug)]
pub struct Estimate {
    pub api: RequestApi,
    pub model: String,
    pub input_tokens: u64,
    /// The prompt was counted with [`APPROXIMATION_ENCODING`], the model's own tokenizer not being public.
    pub approximate: bool,
    pub encoding: String,
    /// How many outputs the request asks for (chat's `n`, Gemini's `candidateCount`; 1 when unset).
    pub choices: u64,
    /// The most output tokens the call can produce: each choice's limit times `choices`.
    pub output_limit: Option<u64>,
    /// Where the limit came from: the request's key (`max_tokens`, ...) or `context_window`.
    pub output_limit_from: Option<&'static str>,
    pub low: Cost,
    pub high: Option<Cost>,
}

/// How to price an estimate; `model` wins over the request's own.
#[derive(Clone, Debug, Default)]
pub struct EstimateOptions<'a> {
    pub model: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub at: i64,
    pub tier: Option<&'a str>,
    pub region: Option<&'a str>,
}

/// Estimates `request` (a chat, Responses, Messages or Gemini request body) with `book`.
pub fn estimate(book: &Arc<PriceBook>, request: Value, opts: &EstimateOptions<'_>) -> Result<Estimate> {
    let named = request.get("model").and_then(Value::as_str).map(str::to_string);
    let model = opts.model.or(named.as_deref()).ok_or_else(|| {
        Error::InvalidArgument("estimate() needs model=: the request names no model (Gemini's is in the URL)".into())
    })?;
    let anthropic = matches!(lookup_model(model), Some(ModelTokenizer::NotPublic { vendor: "Anthropic" }));
    let req = read_request(request, anthropic)?;
    // A model with no public tokenizer, or none known (Mistral, Llama, ...), is counted approximately.
    let (encoding, approximate) = match message_encoding(model, true) {
        Err(Error::UnknownModel { .. }) => (get_encoding(APPROXIMATION_ENCODING)?, true),
        other => other?,
    };
    let input = count_message_tokens(&encoding, model, &req.messages, Some(&req.tools))?;
    let mi = book.resolve(model, opts.provider)?;
    let per_choice = req.max_output.or_else(|| {
        let window = book.models[mi].context_window?;
        Some((window.saturating_sub(input), "context_window"))
    });
    // Every choice may write up to the limit; the prompt is read once.
    let limit = per_choice
        .map(|(n, from)| {
            n.checked_mul(req.choices)
                .map(|total| (total, from))
                .ok_or_else(|| Error::Overflow(format!("{} choices of {n} output tokens", req.choices)))
        })
        .transpose()?;
    let usage = |output: u64| {
        let mut u = Usage::default();
        u.counts[INPUT] = input;
        u.counts[OUTPUT] = output;
        u
    };
    // One sheet for both ends: the same entry, tier and region.
    let sheet = book.sheet_for(mi, opts.at, opts.tier, opts.region)?;
    let low = price_sheet(book, sheet.clone(), &usage(0), opts.at)?;
    let high = limit.map(|(n, _)| price_sheet(book, sheet, &usage(n), opts.at)).transpose()?;
    Ok(Estimate {
        api: req.api,
        model: model.to_string(),
        input_tokens: input,
        approximate,
        encoding: encoding.name().to_string(),
        choices: req.choices,
        output_limit: limit.map(|(n, _)| n),
        output_limit_from: limit.map(|(_, k)| k),
        low,
        high,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::calendar::parse_instant;
    use serde_json::json;

    fn opts() -> EstimateOptions<'static> {
        EstimateOptions { at: parse_instant("2025-10-01").unwrap(), ..Default::default() }
    }

    #[test]
    fn a_chat_request_is_counted_by_the_chat_rules_and_priced_as_a_range() {
        let book = PriceBook::default_book();
        let messages = vec![json!({"role": "user", "content": "What is the capital of France?"})];
        let request = json!({"model": "gpt-4o", "messages": messages, "max_tokens": 100});
        let e = estimate(&book, request, &opts()).unwrap();
        let enc = get_encoding("o200k_base").unwrap();
        assert_eq!(e.input_tokens, count_message_tokens(&enc, "gpt-4o", &messages, None).unwrap());
        assert!(!e.approximate);
        assert_eq!((e.output_limit, e.output_limit_from), (Some(100), Some("max_tokens")));
        let high = e.high.unwrap();
        assert_eq!(high.total - e.low.total, high.items.iter().filter(|i| i.unit == OUTPUT).map(|i| i.amount).sum());
    }

    #[test]
    fn claude_is_approximate_and_its_system_prompt_counts() {
        let book = PriceBook::default_book();
        let base = json!({"model": "claude-sonnet-4-5", "max_tokens": 1024,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}]});
        let mut with_system = base.clone();
        with_system["system"] = json!("You are a terse assistant who answers in one word.");
        let (a, b) = (estimate(&book, base, &opts()).unwrap(), estimate(&book, with_system, &opts()).unwrap());
        assert!(a.approximate && a.api == RequestApi::Messages);
        assert!(b.input_tokens > a.input_tokens + 5, "{} vs {}", b.input_tokens, a.input_tokens);
    }

    #[test]
    fn without_a_limit_the_context_window_bounds_the_output() {
        let book = PriceBook::default_book();
        let request = json!({"model": "gpt-4o", "input": "Hi"});
        let e = estimate(&book, request, &opts()).unwrap();
        let window = book.models[book.resolve("gpt-4o", None).unwrap()].context_window.unwrap();
        assert_eq!(e.api, RequestApi::Responses);
        assert_eq!((e.output_limit, e.output_limit_from), (Some(window - e.input_tokens), Some("context_window")));
    }
    #[test]
    fn every_choice_may_write_the_output_limit_and_the_prompt_is_billed_once() {
        let book = PriceBook::default_book();
        let messages = vec![json!({"role": "user", "content": "Give me three taglines."})];
        let one =
            estimate(&book, json!({"model": "gpt-4o", "messages": messages, "max_tokens": 100}), &opts()).unwrap();
        let three =
            estimate(&book, json!({"model": "gpt-4o", "messages": messages, "max_tokens": 100, "n": 3}), &opts())
                .unwrap();
        assert_eq!((one.choices, one.output_limit), (1, Some(100)));
        assert_eq!((three.choices, three.output_limit, three.output_limit_from), (3, Some(300), Some("max_tokens")));
        assert_eq!((three.input_tokens, three.low.total), (one.input_tokens, one.low.total));
        let output = |e: &Estimate| e.high.as_ref().unwrap().total - e.low.total;
        assert_eq!(output(&three), 3 * output(&one));
        // n: null is unset; without a limit each choice may fill what the context window leaves.
        let null = estimate(&book, json!({"model": "gpt-4o", "messages": messages, "n": null}), &opts()).unwrap();
        let window = estimate(&book, json!({"model": "gpt-4o", "messages": messages, "n": 2}), &opts()).unwrap();
        assert_eq!(null.choices, 1);
        assert_eq!(
            (window.output_limit, window.output_limit_from),
            (null.output_limit.map(|n| 2 * n), Some("context_window"))
        );
        // Gemini's candidateCount, in either spelling; Messages and Responses have no such field.
        let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "generationConfig": {"maxOutputTokens": 64, "candidateCount": 4}});
        let g = estimate(&book, gemini, &EstimateOptions { model: Some("gemini-2.5-flash"), ..opts() }).unwrap();
        assert_eq!((g.choices, g.output_limit, g.output_limit_from), (4, Some(256), Some("maxOutputTokens")));
        let snake = json!({"contents": [], "generation_config": {"max_output_tokens": 10, "candidate_count": 2}});
        let g = estimate(&book, snake, &EstimateOptions { model: Some("gemini-2.5-flash"), ..opts() }).unwrap();
        assert_eq!((g.choices, g.output_limit), (2, Some(20)));
        let claude = json!({"model": "claude-sonnet-4-5", "max_tokens": 50, "system": "x", "n": 3, "messages": []});
        assert_eq!(estimate(&book, claude, &opts()).unwrap().output_limit, Some(50));
    }

    #[test]
    fn an_output_limit_or_a_choice_count_that_is_not_a_count_is_an_error_naming_it() {
        let book = PriceBook::default_book();
        let chat = |extra: Value| {
            let mut r = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]});
            r.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            estimate(&book, r, &opts())
        };
        for (extra, says) in [
            (json!({"max_tokens": -1}), "request.max_tokens: expected a whole number of tokens, 0 or more, got -1"),
            (
                json!({"max_tokens": "200"}),
                "request.max_tokens: expected a whole number of tokens, 0 or more, got \"200\"",
            ),
            (json!({"max_tokens": 1.5}), "request.max_tokens: expected a whole number of tokens, 0 or more, got 1.5"),
            (
                json!({"max_completion_tokens": true}),
                "request.max_completion_tokens: expected a whole number of tokens",
            ),
            // A valid max_completion_tokens does not hide an invalid max_tokens.
            (json!({"max_completion_tokens": 10, "max_tokens": -5}), "request.max_tokens: expected"),
            (json!({"n": 0}), "request.n: expected a whole number of choices, 1 or more, got 0"),
            (json!({"n": -2}), "request.n: expected a whole number of choices, 1 or more, got -2"),
            (json!({"n": "3"}), "request.n: expected a whole number of choices"),
            (json!({"n": 2.5}), "request.n: expected a whole number of choices"),
        ] {
            match chat(extra.clone()) {
                Err(Error::InvalidMessage(m)) => assert!(m.starts_with(says), "{extra}: {m}"),
                other => panic!("{extra}: {other:?}"),
            }
        }
        assert!(matches!(chat(json!({"n": u64::MAX, "max_tokens": 2})), Err(Error::Overflow(_))));
        let gemini = |config: Value| {
            let r = json!({"contents": [], "generationConfig": config});
            estimate(&book, r, &EstimateOptions { model: Some("gemini-2.5-flash"), ..opts() })
        };
        for (config, says) in [
            (
                json!({"maxOutputTokens": -1}),
                "request.generationConfig.maxOutputTokens: expected a whole number of tokens",
            ),
            (
                json!({"candidateCount": 0}),
                "request.generationConfig.candidateCount: expected a whole number of choices",
            ),
            (json!("fast"), "request.generationConfig: expected an object, got \"fast\""),
        ] {
            match gemini(config.clone()) {
                Err(Error::InvalidMessage(m)) => assert!(m.starts_with(says), "{config}: {m}"),
                other => panic!("{config}: {other:?}"),
            }
        }
        let responses = json!({"model": "gpt-4o", "input": "Hi", "max_output_tokens": "50"});
        assert!(
            matches!(estimate(&book, responses, &opts()), Err(Error::InvalidMessage(m)) if m.starts_with("request.max_output_tokens"))
        );
        let messages = json!({"model": "claude-sonnet-4-5", "messages": [], "max_tokens": -1});
        assert!(
            matches!(estimate(&book, messages, &opts()), Err(Error::InvalidMessage(m)) if m.starts_with("request.max_tokens"))
        );
    }
}
