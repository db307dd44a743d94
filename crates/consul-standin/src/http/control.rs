//! The `/_standin/` endpoints (never under `/v1/`, so a real agent answers them with 404):
//!
//! * `GET /_standin/agents` — every agent with its node address and HTTP address;
//! * `PUT /_standin/serf/<node>?status=passing|critical` — the host comes back or dies;
//! * `PUT /_standin/pause/<agent>?mode=hang|refuse` and `PUT /_standin/resume/<agent>`;
//! * `GET /_standin/history/<node>/<check-id>` — the check's runs, oldest first;
//! * `PUT /_standin/anti-entropy` — every agent syncs now instead of at its next interval.
//!
//! These endpoints keep answering on a paused (`hang`) agent, so a test can resume it through
//! the same address; a `refuse`-paused agent must be resumed through another agent.

use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, App, Req, empty, json};
use crate::control::{self, ControlError};
use crate::state::PauseMode;

fn control_error(e: ControlError) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, e.to_string())
}

pub fn endpoint(app: &App, req: &Req) -> ApiResult {
    let (what, arg) = req.rest.split_once('/').unwrap_or((req.rest.as_str(), ""));
    let write = req.method == Method::PUT || req.method == Method::POST;
    match (what, write) {
        ("agents", false) => {
            let agents: Vec<Value> = app
                .dc
                .agents
                .iter()
                .map(|a| {
                    json!({
                        "Name": a.name,
                        "Address": a.ip.to_string(),
                        "HTTP": a.http_addr.get().map(|s| s.to_string()),
                        "Paused": *a.pause.borrow() != PauseMode::Running,
                    })
                })
                .collect();
            Ok(json(req, &agents))
        }
        ("serf", true) => {
            let passing = match req.query.get("status") {
                Some("passing") => true,
                Some("critical") => false,
                _ => return Err(ApiError::bad_request("status must be passing or critical")),
            };
            control::set_serf_health(&app.dc, arg, passing).map_err(control_error)?;
            Ok(empty())
        }
        ("pause", true) => {
            let mode = match req.query.get("mode").unwrap_or("hang") {
                "hang" => PauseMode::Hang,
                "refuse" => PauseMode::Refuse,
                _ => return Err(ApiError::bad_request("mode must be hang or refuse")),
            };
            control::set_pause(&app.dc, arg, mode).map_err(control_error)?;
            Ok(empty())
        }
        ("resume", true) => {
            control::set_pause(&app.dc, arg, PauseMode::Running).map_err(control_error)?;
            Ok(empty())
        }
        ("anti-entropy", true) => {
            control::anti_entropy_now(&app.dc);
            Ok(empty())
        }
        ("history", false) => {
            let Some((node, check)) = arg.split_once('/') else {
                return Err(ApiError::bad_request(
                    "expected /_standin/history/<node>/<check-id>",
                ));
            };
            let runs = control::check_history(&app.dc, node, check).map_err(control_error)?;
            Ok(json(req, &runs))
        }
        _ => Ok(StatusCode::NOT_FOUND.into_response()),
    }
}
