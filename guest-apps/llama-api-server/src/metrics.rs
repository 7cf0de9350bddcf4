//! Server counters and their Prometheus text exposition (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write;

/// Counters and gauges the server keeps.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    requests: BTreeMap<(&'static str, u16), u64>,
    prompt_tokens: u64,
    generated_tokens: u64,
    generation_seconds: f64,
    last_tokens_per_second: f64,
}

/// Gauges read from the scheduler when metrics are rendered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Load {
    /// Slots generating now.
    pub active_slots: usize,
    /// All slots.
    pub slots: usize,
    /// Requests waiting for a slot.
    pub queued: usize,
}

impl Metrics {
    /// Counts a finished request on `endpoint` answered with `status`.
    pub fn request(&mut self, endpoint: &'static str, status: u16) {
        *self.requests.entry((endpoint, status)).or_default() += 1;
    }

    /// Records one finished generation: its token counts and decoding time.
    pub fn generation(&mut self, prompt_tokens: u64, generated_tokens: u64, seconds: f64) {
        self.prompt_tokens += prompt_tokens;
        self.generated_tokens += generated_tokens;
        self.generation_seconds += seconds;
        if seconds > 0.0 {
            self.last_tokens_per_second = generated_tokens as f64 / seconds;
        }
    }

    /// Records prompt tokens that produced no generation (embeddings).
    pub fn prompt_only(&mut self, tokens: u64) {
        self.prompt_tokens += tokens;
    }

    /// The Prometheus text format.
    pub fn render(&self, load: Load) -> String {
        let mut out = String::new();
        family(
            &mut out,
            "nnedge_requests_total",
            "counter",
            "HTTP requests answered, by endpoint and status.",
        );
        for ((endpoint, status), count) in &self.requests {
            let _ = writeln!(
                out,
                "nnedge_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {count}"
            );
        }
        let gauges: [(&str, &str, &str, f64); 8] = [
            (
                "nnedge_prompt_tokens_total",
                "counter",
                "Prompt tokens processed.",
                self.prompt_tokens as f64,
            ),
            (
                "nnedge_generated_tokens_total",
                "counter",
                "Tokens generated.",
                self.generated_tokens as f64,
            ),
            (
                "nnedge_generation_seconds_total",
                "counter",
                "Time spent in finished generations.",
                self.generation_seconds,
            ),
            (
                "nnedge_tokens_per_second",
                "gauge",
                "Generation speed of the last finished request.",
                self.last_tokens_per_second,
            ),
            (
                "nnedge_active_slots",
                "gauge",
                "Slots generating now.",
                load.active_slots as f64,
            ),
            (
                "nnedge_slots",
                "gauge",
                "Generation slots (--parallel).",
                load.slots as f64,
            ),
            (
                "nnedge_queue_length",
                "gauge",
                "Requests waiting for a slot.",
                load.queued as f64,
            ),
            ("nnedge_up", "gauge", "1 once the model is loaded.", 1.0),
        ];
        for (name, kind, help, value) in gauges {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_gauges() {
        let mut metrics = Metrics::default();
        metrics.request("chat", 200);
        metrics.request("chat", 200);
        metrics.request("chat", 400);
        metrics.generation(10, 20, 2.0);
        let text = metrics.render(Load {
            active_slots: 1,
            slots: 4,
            queued: 2,
        });
        assert!(text.contains("nnedge_requests_total{endpoint=\"chat\",status=\"200\"} 2\n"));
        assert!(text.contains("nnedge_requests_total{endpoint=\"chat\",status=\"400\"} 1\n"));
        assert!(text.contains("nnedge_prompt_tokens_total 10\n"));
        assert!(text.contains("nnedge_tokens_per_second 10\n"));
        assert!(text.contains("nnedge_queue_length 2\n"));
        assert!(text.contains("# TYPE nnedge_active_slots gauge\n"));
    }
}
