//! The admin API under `/_sim/` (no auth; the simulator listens on loopback by default).

use std::sync::Arc;

use http::{Method, Response};
use serde_json::{Value, json};

use crate::body::{CollectError, ReqBody, SimBody};
use crate::faults::FaultRules;
use crate::oss::finish;
use crate::state::Shared;
use crate::throttle::ThrottleSettings;

fn json_response(status: u16, v: &Value) -> Response<SimBody> {
    finish(
        Response::builder()
            .status(status)
            .header("content-type", "application/json"),
        SimBody::full(v.to_string()),
    )
}

fn bad_request(msg: impl std::fmt::Display) -> Response<SimBody> {
    json_response(400, &json!({ "error": msg.to_string() }))
}

async fn read_json<T: serde::de::DeserializeOwned>(
    body: &mut ReqBody,
) -> Result<T, Response<SimBody>> {
    let bytes = body.collect(1 << 20).await.map_err(|e| match e {
        CollectError::TooLarge => bad_request("body too large"),
        CollectError::Body(e) => bad_request(e.0),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| bad_request(format!("invalid JSON: {e}")))
}

pub(crate) async fn handle(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    mut body: ReqBody,
) -> Response<SimBody> {
    let path = path.trim_end_matches('/');
    match (method, path) {
        (&Method::GET, "/_sim/stats") => match serde_json::to_value(shared.snapshot_stats()) {
            Ok(v) => json_response(200, &v),
            Err(e) => json_response(500, &json!({ "error": e.to_string() })),
        },
        (&Method::GET, "/_sim/info") => match serde_json::to_value(&shared.info) {
            Ok(v) => json_response(200, &v),
            Err(e) => json_response(500, &json!({ "error": e.to_string() })),
        },
        (&Method::GET, "/_sim/faults") => {
            let rules = FaultRules {
                rules: shared.faults.current(),
            };
            match serde_json::to_value(rules) {
                Ok(v) => json_response(200, &v),
                Err(e) => json_response(500, &json!({ "error": e.to_string() })),
            }
        }
        (&Method::POST, "/_sim/faults") => {
            let rules: FaultRules = match read_json(&mut body).await {
                Ok(r) => r,
                Err(resp) => return resp,
            };
            if let Err(e) = rules.rules.iter().try_for_each(|r| r.validate()) {
                return bad_request(e);
            }
            let n = rules.rules.len();
            shared.faults.set(rules.rules);
            tracing::info!(rules = n, "fault rules set");
            json_response(200, &json!({ "rules": n }))
        }
        (&Method::DELETE, "/_sim/faults") => {
            shared.faults.clear();
            json_response(200, &json!({ "rules": 0 }))
        }
        (&Method::POST, "/_sim/expire-tokens") => {
            let n = shared.creds.expire_all();
            tracing::info!(expired = n, "tokens expired");
            json_response(200, &json!({ "expired": n }))
        }
        (&Method::GET, "/_sim/throttle") => {
            match serde_json::to_value(shared.throttle.settings()) {
                Ok(v) => json_response(200, &v),
                Err(e) => json_response(500, &json!({ "error": e.to_string() })),
            }
        }
        (&Method::POST, "/_sim/throttle") => {
            let settings: ThrottleSettings = match read_json(&mut body).await {
                Ok(s) => s,
                Err(resp) => return resp,
            };
            shared.throttle.set(settings);
            tracing::info!(?settings, "throttle set");
            match serde_json::to_value(settings) {
                Ok(v) => json_response(200, &v),
                Err(e) => json_response(500, &json!({ "error": e.to_string() })),
            }
        }
        (&Method::GET, "/_sim/requests") => {
            match serde_json::to_value(shared.requests.snapshot()) {
                Ok(v) => json_response(200, &v),
                Err(e) => json_response(500, &json!({ "error": e.to_string() })),
            }
        }
        (&Method::DELETE, "/_sim/requests") => {
            shared.requests.clear();
            json_response(200, &json!({ "requests": 0 }))
        }
        _ => json_response(
            404,
            &json!({ "error": format!("no admin endpoint {method} {path}") }),
        ),
    }
}
