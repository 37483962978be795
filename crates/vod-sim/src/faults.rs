//! Fault injection rules (`POST /_sim/faults`).

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a fault rule does to a matching request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum FaultAction {
    /// Answer with this HTTP status and an error document (OSS XML or RPC JSON) carrying `code`
    /// (a sensible code for the status when absent). The request body is read and discarded
    /// first, so the client reliably sees the response.
    Status {
        /// HTTP status.
        status: u16,
        /// Error code; defaults by status (e.g. 500 `InternalError`, 503 `ServiceUnavailable`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// Error message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Read part of the request body (about half of it), then drop the connection abruptly
    /// (TCP RST) without a response.
    Reset,
    /// Delay the request by `ms` milliseconds, then process it normally.
    Delay {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Process the request normally, then hold its response back for `ms` milliseconds: the
    /// server has acted, and a client that gives up meanwhile (stop, pause, a network change)
    /// never learns it. Models an answer lost after the server acted.
    Hold {
        /// Milliseconds the response is held back.
        ms: u64,
    },
}

/// One rule: `op` is an OSS operation (`UploadPart`, `CompleteMultipartUpload`, ...), a VOD/STS
/// action (`CreateUploadVideo`, `AssumeRole`, ...) or `*`.
///
/// Without `probability` and `count` the rule fires on every matching request; with `count` it
/// fires on the next `count` matching requests; with `probability` each matching request fires
/// with that chance (and with both, at most `count` times).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Operation name or `*`.
    pub op: String,
    /// What to do.
    #[serde(flatten)]
    pub action: FaultAction,
    /// Chance in `[0, 1]` that a matching request is hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// How many more matching requests are hit (decrements as the rule fires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl FaultRule {
    /// A rule answering `status` (default code) on every `op` request.
    pub fn status(op: &str, status: u16) -> FaultRule {
        FaultRule {
            op: op.to_owned(),
            action: FaultAction::Status {
                status,
                code: None,
                message: None,
            },
            probability: None,
            count: None,
        }
    }

    /// A rule answering `status` with error `code`.
    pub fn status_code(op: &str, status: u16, code: &str) -> FaultRule {
        FaultRule {
            action: FaultAction::Status {
                status,
                code: Some(code.to_owned()),
                message: None,
            },
            ..FaultRule::status(op, status)
        }
    }

    /// A rule resetting the connection part-way through the request body.
    pub fn reset(op: &str) -> FaultRule {
        FaultRule {
            action: FaultAction::Reset,
            ..FaultRule::status(op, 0)
        }
    }

    /// A rule delaying requests by `ms` milliseconds.
    pub fn delay(op: &str, ms: u64) -> FaultRule {
        FaultRule {
            action: FaultAction::Delay { ms },
            ..FaultRule::status(op, 0)
        }
    }

    /// A rule holding back the responses to `op` by `ms` milliseconds after processing.
    pub fn hold(op: &str, ms: u64) -> FaultRule {
        FaultRule {
            action: FaultAction::Hold { ms },
            ..FaultRule::status(op, 0)
        }
    }

    /// Limits the rule to the next `count` matching requests.
    pub fn with_count(mut self, count: u64) -> FaultRule {
        self.count = Some(count);
        self
    }

    /// Makes the rule fire with `probability`.
    pub fn with_probability(mut self, probability: f64) -> FaultRule {
        self.probability = Some(probability);
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.op.is_empty() {
            return Err("fault rule: empty op".into());
        }
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!(
                "fault rule for {}: probability {p} not in [0, 1]",
                self.op
            ));
        }
        if let FaultAction::Status { status, .. } = self.action
            && !(400..=599).contains(&status)
        {
            return Err(format!(
                "fault rule for {}: status {status} is not an error status (400-599)",
                self.op
            ));
        }
        Ok(())
    }
}

/// The `POST /_sim/faults` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultRules {
    /// Rules, evaluated in order.
    pub rules: Vec<FaultRule>,
}

/// What the rules decided for one request.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub delay: Duration,
    /// How long to hold the response back after processing the request.
    pub hold: Duration,
    pub terminal: Option<Terminal>,
}

#[derive(Debug)]
pub(crate) enum Terminal {
    Status {
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    Reset,
}

#[derive(Default)]
pub(crate) struct Faults {
    rules: Mutex<Vec<FaultRule>>,
}

impl Faults {
    pub fn set(&self, rules: Vec<FaultRule>) {
        *self.rules.lock().unwrap_or_else(|e| e.into_inner()) = rules;
    }

    pub fn clear(&self) {
        self.set(Vec::new());
    }

    pub fn current(&self) -> Vec<FaultRule> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Evaluates the rules for a request to `op`: delays add up, the first status/reset wins.
    /// Returns the decision and how many rules fired.
    pub fn decide(&self, op: &str) -> (Decision, u64) {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let mut decision = Decision::default();
        let mut fired = 0;
        for rule in rules.iter_mut() {
            if rule.op != "*" && rule.op != op {
                continue;
            }
            let terminal = !matches!(
                rule.action,
                FaultAction::Delay { .. } | FaultAction::Hold { .. }
            );
            if terminal && decision.terminal.is_some() {
                // Do not spend another rule's count on a request that already fails.
                continue;
            }
            if rule.count == Some(0) {
                continue;
            }
            if let Some(p) = rule.probability
                && fastrand::f64() >= p
            {
                continue;
            }
            if let Some(c) = rule.count.as_mut() {
                *c -= 1;
            }
            fired += 1;
            match &rule.action {
                FaultAction::Delay { ms } => decision.delay += Duration::from_millis(*ms),
                FaultAction::Hold { ms } => decision.hold += Duration::from_millis(*ms),
                FaultAction::Reset => decision.terminal = Some(Terminal::Reset),
                FaultAction::Status {
                    status,
                    code,
                    message,
                } => {
                    decision.terminal = Some(Terminal::Status {
                        status: *status,
                        code: code.clone(),
                        message: message.clone(),
                    })
                }
            }
        }
        (decision, fired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_is_not_terminal_and_adds_up() {
        let rules: FaultRules = serde_json::from_str(
            r#"{"rules":[{"op":"CompleteMultipartUpload","action":"hold","ms":250,"count":1}]}"#,
        )
        .unwrap();
        assert_eq!(
            rules.rules[0],
            FaultRule::hold("CompleteMultipartUpload", 250).with_count(1)
        );
        let f = Faults::default();
        f.set(vec![
            FaultRule::hold("*", 100),
            FaultRule::hold("CompleteMultipartUpload", 50),
            FaultRule::status("CompleteMultipartUpload", 503),
        ]);
        let (d, fired) = f.decide("CompleteMultipartUpload");
        assert_eq!((d.hold, fired), (Duration::from_millis(150), 3));
        assert!(d.terminal.is_some(), "a hold does not stop a status rule");
    }

    #[test]
    fn parses_the_contract_example() {
        let json = r#"{"rules":[{"op":"UploadPart","action":"reset","probability":0.1},{"op":"UploadPart","action":"status","status":503,"probability":0.05},{"op":"CompleteMultipartUpload","action":"status","status":500,"count":1},{"op":"*","action":"delay","ms":200,"count":3}]}"#;
        let rules: FaultRules = serde_json::from_str(json).unwrap();
        assert_eq!(rules.rules.len(), 4);
        assert_eq!(rules.rules[0].action, FaultAction::Reset);
        assert_eq!(rules.rules[0].probability, Some(0.1));
        assert_eq!(
            rules.rules[2].action,
            FaultAction::Status {
                status: 500,
                code: None,
                message: None
            }
        );
        assert_eq!(rules.rules[3].action, FaultAction::Delay { ms: 200 });
        assert_eq!(rules.rules[3].count, Some(3));
        for r in &rules.rules {
            r.validate().unwrap();
        }
    }

    #[test]
    fn counts_and_ordering() {
        let f = Faults::default();
        f.set(vec![
            FaultRule::delay("*", 5).with_count(2),
            FaultRule::status("UploadPart", 503).with_count(1),
            FaultRule::reset("UploadPart").with_count(1),
        ]);
        let (d, n) = f.decide("UploadPart");
        assert_eq!(n, 2);
        assert_eq!(d.delay, Duration::from_millis(5));
        assert!(matches!(
            d.terminal,
            Some(Terminal::Status { status: 503, .. })
        ));
        let (d, _) = f.decide("UploadPart");
        assert!(matches!(d.terminal, Some(Terminal::Reset)));
        let (d, n) = f.decide("UploadPart");
        assert_eq!(n, 0);
        assert!(d.terminal.is_none());
        assert_eq!(d.delay, Duration::ZERO);
        // Other ops are untouched by op-specific rules.
        f.set(vec![FaultRule::status("PutObject", 500)]);
        assert!(f.decide("UploadPart").0.terminal.is_none());
        assert!(f.decide("PutObject").0.terminal.is_some());
        assert!(f.decide("PutObject").0.terminal.is_some());
    }

    #[test]
    fn probability_zero_never_fires() {
        let f = Faults::default();
        f.set(vec![FaultRule::reset("*").with_probability(0.0)]);
        for _ in 0..100 {
            assert!(f.decide("UploadPart").0.terminal.is_none());
        }
    }
}
