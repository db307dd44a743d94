//! A check's outcome, its two renderings (text for Consul, JSON for machines) and its exit code.
//!
//! A check builds one [`Outcome`] from sub-results; the overall [`Status`] is the worst of them
//! (monitoring-plugins' `max_state`), and [`Status`] is the only thing that turns into a check's
//! exit code. Line 1 of the text form is `STATUS: summary` and must stay byte-identical while the
//! state is unchanged, because Consul stores every change of output: never put timings or counters
//! into a summary or a sub-result's text (details may carry them). The whole output is capped well
//! under Consul's 4096-byte capture buffer, which keeps only the tail.

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

/// The most bytes a rendering may take. Consul keeps the last 4096 bytes of stdout and stderr
/// together; staying this far below leaves room for anything on stderr.
pub const MAX_OUTPUT_BYTES: usize = 3072;

/// The most bytes of one line (the summary, a sub-result, a detail line).
const MAX_LINE_BYTES: usize = 512;

/// What is appended when lines had to be dropped; counted into the budget up front.
const CUT_NOTE_RESERVE: usize = 48;

/// A check's state. The order matters: a later variant is worse, so the overall state of an
/// outcome is the maximum of its sub-results' states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Exit 0: Consul marks the check passing.
    Passing,
    /// Exit 1: Consul marks the check warning.
    Warning,
    /// Exit 2: Consul marks the check critical. Also "could not check".
    Critical,
}

impl Status {
    /// The upper-case word that starts line 1 of the text output.
    pub fn label(self) -> &'static str {
        match self {
            Status::Passing => "PASSING",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
        }
    }

    /// The process exit status Consul maps to this state; only [`From<Status> for ExitCode`]
    /// and the JSON rendering read it.
    fn code(self) -> u8 {
        match self {
            Status::Passing => 0,
            Status::Warning => 1,
            Status::Critical => 2,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        ExitCode::from(status.code())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How a check prints its outcome: `--format text|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `STATUS: summary`, then one line per sub-result and its details.
    #[default]
    Text,
    /// One JSON object on one line, with the same exit code as the text form.
    Json,
}

/// One thing a check looked at: its state, a short name, one line of text and optional details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubResult {
    pub status: Status,
    /// A short, stable name such as `role` or `dns`.
    pub name: String,
    /// One line a human can act on. Newlines are flattened when rendered.
    pub text: String,
    /// Further lines (may change from run to run, e.g. timings).
    pub details: Option<String>,
}

impl SubResult {
    pub fn new(status: Status, name: impl Into<String>, text: impl Into<String>) -> Self {
        SubResult { status, name: name.into(), text: text.into(), details: None }
    }

    pub fn passing(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Status::Passing, name, text)
    }

    pub fn warning(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Status::Warning, name, text)
    }

    pub fn critical(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Status::Critical, name, text)
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }
}

/// The result of one check run: sub-results in the order they were checked, and optionally a
/// summary that replaces the default one.
///
/// The overall state is the worst sub-state; an outcome without sub-results is critical, so a
/// check that forgot to record anything can never pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    summary: Option<String>,
    results: Vec<SubResult>,
}

impl From<SubResult> for Outcome {
    fn from(result: SubResult) -> Self {
        Outcome { summary: None, results: vec![result] }
    }
}

impl Outcome {
    pub fn new() -> Self {
        Outcome::default()
    }

    /// Adds a sub-result.
    pub fn push(&mut self, result: SubResult) -> &mut Self {
        self.results.push(result);
        self
    }

    /// Adds a sub-result, builder style.
    pub fn with(mut self, result: SubResult) -> Self {
        self.results.push(result);
        self
    }

    /// Replaces the default summary. It must describe the overall state and stay the same
    /// while that state does (no timings, no counters).
    pub fn with_summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    /// The worst state among the sub-results; critical when there are none.
    pub fn status(&self) -> Status {
        self.results.iter().map(|r| r.status).max().unwrap_or(Status::Critical)
    }

    /// The summary set with [`Outcome::with_summary`], else the text of the first sub-result
    /// in the worst state, so line 1 names what is wrong.
    pub fn summary(&self) -> &str {
        if let Some(summary) = &self.summary {
            return summary;
        }
        let worst = self.status();
        self.results
            .iter()
            .find(|r| r.status == worst)
            .map(|r| r.text.as_str())
            .unwrap_or("internal error: the check recorded no result")
    }

    pub fn results(&self) -> &[SubResult] {
        &self.results
    }

    /// The exit code for this outcome: the overall state's.
    pub fn exit_code(&self) -> ExitCode {
        self.status().into()
    }

    /// Renders the outcome in `format`, always ending in a newline and never longer than
    /// [`MAX_OUTPUT_BYTES`].
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => self.render_text(),
            Format::Json => self.render_json(),
        }
    }

    /// Writes the rendering to stdout and returns the exit code. A closed stdout is ignored:
    /// the exit code alone decides the state.
    pub fn print(&self, format: Format) -> ExitCode {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(self.render(format).as_bytes()).and_then(|()| stdout.flush());
        self.exit_code()
    }

    /// `STATUS: summary`, then `[STATUS] name: text` per sub-result with its details indented.
    /// When everything does not fit, detail lines go first, then trailing sub-results.
    pub fn render_text(&self) -> String {
        let budget = MAX_OUTPUT_BYTES - CUT_NOTE_RESERVE;
        let mut out = format!("{}: {}\n", self.status().label(), one_line(self.summary()));

        // A lone sub-result whose text is the summary would only repeat line 1.
        let repeat_only = self.summary.is_none() && self.results.len() == 1;
        let heads: Vec<Option<String>> = self
            .results
            .iter()
            .map(|r| {
                (!repeat_only).then(|| format!("[{}] {}: {}\n", r.status.label(), one_line(&r.name), one_line(&r.text)))
            })
            .collect();

        // Sub-result lines have priority over details: reserve room for them first.
        let mut used = out.len();
        let mut kept_heads = 0;
        for head in &heads {
            let len = head.as_ref().map_or(0, String::len);
            if used + len > budget {
                break;
            }
            used += len;
            kept_heads += 1;
        }

        let mut cut = 0;
        let mut details_fit = true;
        for (i, result) in self.results.iter().enumerate() {
            if i >= kept_heads {
                cut += heads[i].is_some() as usize + result.details.as_deref().map_or(0, |d| d.lines().count());
                continue;
            }
            if let Some(head) = &heads[i] {
                out.push_str(head);
            }
            for line in result.details.as_deref().unwrap_or("").lines() {
                let line = format!("    {}\n", one_line(line));
                if details_fit && used + line.len() <= budget {
                    used += line.len();
                    out.push_str(&line);
                } else {
                    details_fit = false;
                    cut += 1;
                }
            }
        }
        if cut > 0 {
            out.push_str(&format!("... {cut} more lines cut\n"));
        }
        out
    }

    /// One JSON object: `status`, `exit_code`, `summary`, `results` (each `status`, `name`,
    /// `text`, `details`), and `truncated` when details or sub-results had to be dropped to fit.
    pub fn render_json(&self) -> String {
        let mut view = JsonOutcome {
            status: self.status(),
            exit_code: self.status().code(),
            summary: one_line(self.summary()),
            results: self
                .results
                .iter()
                .map(|r| JsonResult {
                    status: r.status,
                    name: one_line(&r.name),
                    text: one_line(&r.text),
                    details: r.details.as_deref().map(|d| truncate(d, MAX_OUTPUT_BYTES / 2).to_string()),
                })
                .collect(),
            truncated: false,
        };
        loop {
            let rendered = serde_json::to_string(&view).unwrap_or_else(|e| {
                format!("{{\"status\":\"critical\",\"exit_code\":2,\"summary\":\"cannot render json: {e}\"}}")
            });
            if rendered.len() < MAX_OUTPUT_BYTES {
                return rendered + "\n";
            }
            view.truncated = true;
            // Drop the last details first, then trailing sub-results: line 1 and the
            // state must survive whatever else goes.
            if let Some(result) = view.results.iter_mut().rev().find(|r| r.details.is_some()) {
                result.details = None;
            } else if view.results.pop().is_none() {
                // Only the summary is left and it is capped, so this cannot grow; stop anyway.
                return rendered + "\n";
            }
        }
    }
}

#[derive(Serialize)]
struct JsonOutcome {
    status: Status,
    exit_code: u8,
    summary: String,
    results: Vec<JsonResult>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

#[derive(Serialize)]
struct JsonResult {
    status: Status,
    name: String,
    text: String,
    details: Option<String>,
}

/// Flattens control characters (newlines included) to spaces and caps the length, so a line
/// stays one line whatever a server sent.
fn one_line(text: &str) -> String {
    let flat: String = text.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.len() > MAX_LINE_BYTES { format!("{}...", truncate(&flat, MAX_LINE_BYTES - 3)) } else { flat }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_results() -> Outcome {
        Outcome::new()
            .with(SubResult::passing("dns", "redis.service.consul resolves to 10.0.0.11"))
            .with(SubResult::critical("role", "redis 10.0.0.12:6379 is a replica of 10.0.0.11:6379").with_details("master_link_status:up\nlag: 0s"))
    }

    #[test]
    fn overall_state_is_the_worst_sub_state() {
        let mut outcome = Outcome::from(SubResult::passing("a", "fine"));
        assert_eq!(outcome.status(), Status::Passing);
        outcome.push(SubResult::warning("b", "meh"));
        assert_eq!(outcome.status(), Status::Warning);
        outcome.push(SubResult::passing("c", "fine"));
        outcome.push(SubResult::critical("d", "bad"));
        assert_eq!(outcome.status(), Status::Critical);
    }

    #[test]
    fn an_outcome_without_results_is_critical() {
        let outcome = Outcome::new();
        assert_eq!(outcome.status(), Status::Critical);
        assert!(outcome.render_text().starts_with("CRITICAL: internal error"));
    }

    #[test]
    fn exit_codes_are_zero_one_two() {
        assert!(ExitCode::from(Status::Passing) == ExitCode::from(0));
        assert!(ExitCode::from(Status::Warning) == ExitCode::from(1));
        assert!(ExitCode::from(Status::Critical) == ExitCode::from(2));
        assert!(two_results().exit_code() == ExitCode::from(2));
    }

    #[test]
    fn text_starts_with_the_worst_sub_result_and_lists_all() {
        let text = two_results().render_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "CRITICAL: redis 10.0.0.12:6379 is a replica of 10.0.0.11:6379",
                "[PASSING] dns: redis.service.consul resolves to 10.0.0.11",
                "[CRITICAL] role: redis 10.0.0.12:6379 is a replica of 10.0.0.11:6379",
                "    master_link_status:up",
                "    lag: 0s",
            ]
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn an_explicit_summary_replaces_the_default() {
        let outcome = Outcome::new()
            .with(SubResult::passing("role", "role:master"))
            .with(SubResult::passing("dns", "resolves to me"))
            .with_summary("redis 10.0.0.11:6379 is the master of redis");
        assert_eq!(outcome.render_text().lines().next(), Some("PASSING: redis 10.0.0.11:6379 is the master of redis"));
    }

    #[test]
    fn a_lone_result_is_not_repeated_under_line_one() {
        let outcome = Outcome::from(SubResult::warning("dns", "dns server 127.0.0.1:53 did not answer").with_details("timeout after 1s"));
        assert_eq!(outcome.render_text(), "WARNING: dns server 127.0.0.1:53 did not answer\n    timeout after 1s\n");
    }

    #[test]
    fn line_one_does_not_change_with_details() {
        let a = two_results();
        let mut b = two_results();
        b.results[1].details = Some("lag: 17s\nprobe took 3ms".into());
        assert_ne!(a.render_text(), b.render_text());
        assert_eq!(a.render_text().lines().next(), b.render_text().lines().next());
    }

    #[test]
    fn newlines_in_text_are_flattened() {
        let outcome = Outcome::from(SubResult::critical("redis", "ERR something\r\nwent wrong"));
        assert_eq!(outcome.render_text(), "CRITICAL: ERR something  went wrong\n");
    }

    #[test]
    fn text_output_is_capped_and_keeps_line_one_and_sub_results() {
        let big = "x".repeat(200);
        let mut outcome = Outcome::new();
        for i in 0..5 {
            outcome.push(SubResult::passing(format!("n{i}"), "fine").with_details(vec![big.as_str(); 40].join("\n")));
        }
        outcome.push(SubResult::critical("last", "bad"));
        let text = outcome.render_text();
        assert!(text.len() <= MAX_OUTPUT_BYTES, "{} bytes", text.len());
        assert!(text.starts_with("CRITICAL: bad\n"));
        assert!(text.contains("[CRITICAL] last: bad\n"), "sub-result lines outrank details:\n{text}");
        assert!(text.ends_with(" more lines cut\n"));
    }

    #[test]
    fn an_overlong_summary_is_capped() {
        let outcome = Outcome::from(SubResult::critical("x", "é".repeat(MAX_OUTPUT_BYTES)));
        let text = outcome.render_text();
        assert!(text.len() <= MAX_LINE_BYTES + "CRITICAL: \n".len());
        assert!(text.ends_with("...\n"));
    }

    #[test]
    fn json_carries_the_same_value_and_exit_code() {
        let json: serde_json::Value = serde_json::from_str(&two_results().render(Format::Json)).unwrap();
        assert_eq!(json["status"], "critical");
        assert_eq!(json["exit_code"], 2);
        assert_eq!(json["summary"], "redis 10.0.0.12:6379 is a replica of 10.0.0.11:6379");
        assert_eq!(json["results"][0]["name"], "dns");
        assert_eq!(json["results"][0]["status"], "passing");
        assert_eq!(json["results"][0]["details"], serde_json::Value::Null);
        assert_eq!(json["results"][1]["details"], "master_link_status:up\nlag: 0s");
        assert!(json.get("truncated").is_none());
    }

    #[test]
    fn json_output_is_capped_and_stays_valid() {
        let mut outcome = Outcome::new();
        for i in 0..40 {
            outcome.push(SubResult::warning(format!("n{i}"), "y".repeat(300)).with_details("z".repeat(2000)));
        }
        let json = outcome.render_json();
        assert!(json.len() <= MAX_OUTPUT_BYTES, "{} bytes", json.len());
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["status"], "warning");
        assert_eq!(value["exit_code"], 1);
        assert_eq!(value["truncated"], true);
    }

    #[test]
    fn format_parses_from_flags_and_config() {
        use clap::ValueEnum;
        assert_eq!(Format::from_str("json", false), Ok(Format::Json));
        #[derive(Deserialize)]
        struct T {
            format: Format,
        }
        let t: T = toml::from_str("format = \"text\"").unwrap();
        assert_eq!(t.format, Format::Text);
    }
}
