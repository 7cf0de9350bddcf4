//! What a generated token costs on a droplet: its hourly price over the tokens it generates
//! in an hour at a concurrency level,
//!
//! cost per 1M tokens = price_hourly / (aggregate tokens/s × 3600) × 1,000,000.
//!
//! The price is DigitalOcean's `price_hourly` for the size; the rate is `bench serve`'s
//! aggregate rate (completion tokens of the successful requests over the level's wall
//! time), so a level with failed requests is charged for the tokens it did deliver only.

use serde::Serialize;

use crate::serve::LevelResult;

/// Seconds in the hour `price_hourly` is quoted for.
pub const SECONDS_PER_HOUR: f64 = 3600.0;

/// Tokens in the unit a cost is quoted for.
pub const TOKENS_PER_QUOTE: f64 = 1_000_000.0;

/// US dollars per million generated tokens on a machine that costs `price_hourly` dollars
/// an hour and generates `aggregate_tps` tokens a second; `None` when it generated nothing
/// (or a figure is not a finite, non-negative number).
pub fn cost_per_million_tokens(price_hourly: f64, aggregate_tps: f64) -> Option<f64> {
    let usable = price_hourly.is_finite() && price_hourly >= 0.0 && aggregate_tps.is_finite();
    (usable && aggregate_tps > 0.0)
        .then(|| price_hourly / (aggregate_tps * SECONDS_PER_HOUR) * TOKENS_PER_QUOTE)
}

/// One concurrency level on one size, priced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelCost {
    /// Concurrent streams.
    pub concurrency: usize,
    /// Requests sent, and how many failed.
    pub requests: usize,
    /// Requests that failed.
    pub errors: usize,
    /// Completion tokens/s over all streams.
    pub aggregate_tps: f64,
    /// Median time to first token.
    pub ttft_p50_ms: Option<f64>,
    /// US dollars per million generated tokens.
    pub cost_per_million_tokens: Option<f64>,
}

impl LevelCost {
    /// Prices `level` on a size costing `price_hourly`.
    pub fn of(level: &LevelResult, price_hourly: f64) -> Self {
        Self {
            concurrency: level.concurrency,
            requests: level.requests,
            errors: level.errors,
            aggregate_tps: level.aggregate_tps,
            ttft_p50_ms: level.ttft_ms.map(|p| p.p50),
            cost_per_million_tokens: cost_per_million_tokens(price_hourly, level.aggregate_tps),
        }
    }
}

/// The cheapest priced level of `costs` (the first, on a tie).
pub fn cheapest<'a>(costs: impl IntoIterator<Item = &'a LevelCost>) -> Option<&'a LevelCost> {
    costs
        .into_iter()
        .filter_map(|c| Some((c, c.cost_per_million_tokens?)))
        .fold(
            None,
            |best: Option<(&LevelCost, f64)>, (c, cost)| match best {
                Some((_, lowest)) if lowest <= cost => best,
                _ => Some((c, cost)),
            },
        )
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_price_and_rate_give_a_known_cost() {
        let close = |price, tps, expected: f64| {
            let cost = cost_per_million_tokens(price, tps).expect("priced");
            assert!(
                (cost - expected).abs() < 1e-12,
                "{price} $/h at {tps} t/s: {cost}"
            );
        };
        // $0.09/h at 25 t/s: 90,000 tokens an hour cost $0.09, so 1M tokens cost $1.
        close(0.09, 25.0, 1.0);
        // $0.0625/h (the fake's c-2) at 125 t/s: 450,000 tokens an hour → $0.1388…
        close(0.0625, 125.0, 0.138_888_888_888_888_9);
        // $0.00893/h (s-1vcpu-1gb) at 10 t/s: 36,000 tokens an hour → $0.2480…
        close(0.00893, 10.0, 0.248_055_555_555_555_6);
    }

    #[test]
    fn nothing_generated_has_no_cost() {
        assert_eq!(cost_per_million_tokens(0.0625, 0.0), None);
        assert_eq!(cost_per_million_tokens(f64::NAN, 10.0), None);
        assert_eq!(cost_per_million_tokens(0.0625, f64::INFINITY), None);
    }

    #[test]
    fn the_cheapest_level_wins_and_unpriced_levels_are_skipped() {
        let level = |concurrency, cost| LevelCost {
            concurrency,
            requests: 4,
            errors: 0,
            aggregate_tps: 1.0,
            ttft_p50_ms: None,
            cost_per_million_tokens: cost,
        };
        let costs = [
            level(1, Some(0.5)),
            level(2, None),
            level(4, Some(0.2)),
            level(8, Some(0.2)),
        ];
        assert_eq!(cheapest(&costs).map(|c| c.concurrency), Some(4));
        assert_eq!(cheapest(&costs[1..2]), None);
    }
}
