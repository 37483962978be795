//! The worker's decisions, as pure functions: what to do after a failed pass, where to get
//! credentials, which parts to send. The worker ([`super::worker`]) carries them out; the
//! unit tests below cover every case without I/O.

use std::time::Duration;

use crate::error::{Error, ErrorClass};

/// How often a file may restart its multipart upload (NoSuchUpload, file changed) before
/// failing: a loop guard, not a retry budget.
pub(crate) const MAX_RESTARTS: u32 = 3;

/// What to do after a pass of the upload failed with `err`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recovery {
    /// The credentials were rejected as expired: mark them, get new ones, continue the same
    /// multipart upload.
    Renew,
    /// The multipart upload is gone or moved: forget the checkpoint and begin a new one.
    NewUpload,
    /// The server disagrees with the part ledger: rebuild it from ListParts and continue.
    Reconcile,
    /// The file changed on disk: abort what was sent and upload it again from the start.
    StartOver,
    /// Nothing helps: the file fails with this error.
    Fail,
}

pub(crate) fn after_failure(err: &Error, using_sts: bool, restarts: u32) -> Recovery {
    let class = err.class(using_sts);
    if class == ErrorClass::TokenExpired {
        return Recovery::Renew;
    }
    if restarts >= MAX_RESTARTS {
        return Recovery::Fail;
    }
    match err {
        _ if class == ErrorClass::RestartUpload => Recovery::NewUpload,
        Error::Service(s) if s.code == "InvalidPart" => Recovery::Reconcile,
        Error::FileChanged(_) => Recovery::StartOver,
        _ => Recovery::Fail,
    }
}

/// What the worker knows about its credentials when it needs some.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CredentialView {
    /// It has credentials for this file.
    pub(crate) current: bool,
    /// The service rejected them as expired.
    pub(crate) expired: bool,
    /// They are close to their known expiry.
    pub(crate) expires_soon: bool,
    /// A usable STS token (mode 2) is set.
    pub(crate) sts: bool,
    /// The STS token was rejected as expired.
    pub(crate) sts_expired: bool,
    /// Renewing keeps the object (not an image) and needs no app round trip: a provider, or
    /// an STS token for a video.
    pub(crate) can_renew_ahead: bool,
}

/// Where the next credentials come from, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialPlan {
    /// The current ones are good.
    UseCurrent,
    /// Mode 2: ask VOD (Create/RefreshUploadVideo, CreateUploadImage) with the STS token.
    FromSts,
    /// Ask the app's provider for `reason`; if it has nothing, `fallback`.
    AskProvider { reason: Reason, fallback: Fallback },
}

/// Why credentials are needed (the provider's `CredentialReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Initial,
    Refresh,
    Expired,
}

/// What to do when the provider (if any) supplies nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// A renewal ahead of time was only nice to have: keep the current credentials.
    UseCurrent,
    /// Wait for the app (`set_upload_auth_and_address`, `resume_with_auth`/`_token`).
    Wait,
}

pub(crate) fn credential_plan(v: CredentialView) -> CredentialPlan {
    let usable = v.current && !v.expired;
    if usable && !(v.can_renew_ahead && v.expires_soon) {
        return CredentialPlan::UseCurrent;
    }
    if v.sts && !v.sts_expired {
        return CredentialPlan::FromSts;
    }
    let reason = if v.expired || v.sts_expired {
        Reason::Expired
    } else if !v.current {
        Reason::Initial
    } else {
        Reason::Refresh
    };
    let fallback = if usable {
        Fallback::UseCurrent
    } else {
        Fallback::Wait
    };
    CredentialPlan::AskProvider { reason, fallback }
}

/// The part numbers still to send (1-based, in order) for `count` parts of which `done` are
/// on the server.
pub(crate) fn parts_to_send(count: u64, done: impl Fn(u32) -> bool) -> Vec<u32> {
    (1..=count as u32).filter(|n| !done(*n)).collect()
}

/// Whether a file goes up in one PutObject rather than a multipart upload: when it is below
/// the configured threshold or fits in one part (Initiate and Complete would add two round
/// trips and two requests for the same all-or-nothing transfer), unless a multipart upload of
/// it is already under way (continued, never dropped on the floor).
pub(crate) fn use_put_object(size: u64, threshold: u64, part_size: u64, resuming: bool) -> bool {
    !resuming && (size < threshold || size <= part_size)
}

/// How many parts of a file to keep in flight. Each part waits a round trip for its response
/// with its lane idle, and parts that start together share the link and finish together, so
/// their waits line up and the whole link idles. When that wait (`round_trip`, measured on a
/// bodiless request) is an eighth or more of a part's time from request to response (`took`),
/// twice `parallel` parts are kept in flight, which keeps the link busy through the waits
/// (100 Mbit/s with 150 ms: 5 in parallel send 87.8 % of the link, 10 fill it). On a LAN, or
/// a slow uplink where a part takes seconds, the wait is a few per cent: `parallel`.
pub(crate) fn part_lanes(parallel: usize, round_trip: Option<Duration>, took: Duration) -> usize {
    match round_trip {
        Some(rtt) if !took.is_zero() && rtt * 8 >= took => 2 * parallel,
        _ => parallel,
    }
}

/// Parts in flight when a file's first parts start: what the last finished part of the
/// engine called for (`hint`, 0 when none has finished on this network), within the bounds
/// `part_lanes` keeps.
pub(crate) fn first_lanes(parallel: usize, hint: usize) -> usize {
    if hint == 0 {
        parallel
    } else {
        hint.clamp(parallel, 2 * parallel)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_bad_certificate_fails_the_file() {
        use crate::error::CertificateProblem as P;
        for problem in [
            P::UnknownIssuer,
            P::Expired,
            P::WrongHost,
            P::Revoked,
            P::Other,
        ] {
            let e = Error::Certificate {
                problem,
                message: "x".into(),
            };
            assert_eq!(e.class(true), ErrorClass::Fatal, "{problem}");
            assert_eq!(after_failure(&e, true, 0), Recovery::Fail);
        }
        // A TLS failure that is not about the certificate (a reset handshake) is retried.
        let reset = Error::Transport {
            kind: crate::error::TransportKind::Tls,
            message: "handshake reset".into(),
        };
        assert_eq!(reset.class(true), ErrorClass::Retryable);
    }

    use super::*;

    #[test]
    fn one_part_files_are_one_put_object_unless_a_multipart_upload_is_under_way() {
        const P: u64 = 1 << 20;
        assert!(use_put_object(0, 100 * 1024, P, false));
        assert!(use_put_object(P, 100 * 1024, P, false));
        assert!(!use_put_object(P + 1, 100 * 1024, P, false));
        assert!(
            use_put_object(P + 1, P + 2, P, false),
            "the threshold can be higher"
        );
        assert!(!use_put_object(10, 100 * 1024, P, true));
    }
    use crate::error::{Service, ServiceError};

    fn service(code: &str, status: u16) -> Error {
        Error::Service(Box::new(ServiceError {
            service: Service::Oss,
            status,
            code: code.into(),
            message: "m".into(),
            request_id: None,
            host_id: None,
            ec: None,
            string_to_sign: None,
            server_date: None,
        }))
    }

    #[test]
    fn recovery_after_each_kind_of_failure() {
        let changed = Error::FileChanged("/f".into());
        let cases = [
            (service("SecurityTokenExpired", 403), 0, Recovery::Renew),
            // An expiry is never limited by the restart guard.
            (
                service("SecurityTokenExpired", 403),
                MAX_RESTARTS,
                Recovery::Renew,
            ),
            (service("NoSuchUpload", 404), 0, Recovery::NewUpload),
            (Error::UploadMoved("x".into()), 1, Recovery::NewUpload),
            (service("InvalidPart", 400), 0, Recovery::Reconcile),
            (changed, 2, Recovery::StartOver),
            (service("NoSuchUpload", 404), MAX_RESTARTS, Recovery::Fail),
            (service("AccessDenied", 403), 0, Recovery::Fail),
            (Error::InvalidArgument("x".into()), 0, Recovery::Fail),
        ];
        for (err, restarts, want) in cases {
            assert_eq!(
                after_failure(&err, true, restarts),
                want,
                "{err} after {restarts}"
            );
        }
        // InvalidAccessKeyId is an expiry only when an STS token was used.
        assert_eq!(
            after_failure(&service("InvalidAccessKeyId", 403), true, 0),
            Recovery::Renew
        );
        assert_eq!(
            after_failure(&service("InvalidAccessKeyId", 403), false, 0),
            Recovery::Fail
        );
    }

    #[test]
    fn credential_plan_for_every_combination() {
        for bits in 0u8..64 {
            let b = |i: u8| bits & (1 << i) != 0;
            let v = CredentialView {
                current: b(0),
                expired: b(1),
                expires_soon: b(2),
                sts: b(3),
                sts_expired: b(4),
                can_renew_ahead: b(5),
            };
            let plan = credential_plan(v);
            let usable = v.current && !v.expired;
            match plan {
                CredentialPlan::UseCurrent => {
                    assert!(usable, "{v:?}");
                    assert!(!(v.expires_soon && v.can_renew_ahead), "{v:?}");
                }
                CredentialPlan::FromSts => assert!(v.sts && !v.sts_expired, "{v:?}"),
                CredentialPlan::AskProvider { reason, fallback } => {
                    assert!(!v.sts || v.sts_expired, "{v:?}");
                    assert_eq!(fallback == Fallback::UseCurrent, usable, "{v:?}");
                    let want = if v.expired || v.sts_expired {
                        Reason::Expired
                    } else if !v.current {
                        Reason::Initial
                    } else {
                        Reason::Refresh
                    };
                    assert_eq!(reason, want, "{v:?}");
                }
            }
        }
    }

    #[test]
    fn parts_to_send_skips_the_done_ones() {
        assert_eq!(parts_to_send(5, |n| n == 2 || n == 5), vec![1, 3, 4]);
        assert_eq!(parts_to_send(0, |_| false), Vec::<u32>::new());
    }

    #[test]
    fn parts_in_flight_cover_the_round_trip() {
        let ms = Duration::from_millis;
        // Nothing measured yet, or a part that took no time: the configured parallelism.
        assert_eq!(part_lanes(5, None, ms(500)), 5);
        assert_eq!(part_lanes(5, Some(ms(150)), ms(0)), 5);
        // A LAN: a 1 ms round trip.
        assert_eq!(part_lanes(5, Some(ms(1)), ms(100)), 5);
        // A slow uplink: 1 MiB parts take seconds, 60 ms of waiting is nothing.
        assert_eq!(part_lanes(5, Some(ms(60)), ms(2_100)), 5);
        // 100 Mbit/s, 150 ms, 1 MiB parts: 570 ms per part with 5, 990 ms with 10.
        assert_eq!(part_lanes(5, Some(ms(150)), ms(570)), 10);
        assert_eq!(part_lanes(5, Some(ms(150)), ms(990)), 10);
        // Exactly an eighth, and just under it.
        assert_eq!(part_lanes(3, Some(ms(100)), ms(800)), 6);
        assert_eq!(part_lanes(3, Some(ms(100)), ms(801)), 3);
        assert_eq!(part_lanes(1, Some(ms(400)), ms(405)), 2);
    }

    #[test]
    fn a_file_starts_with_the_parts_in_flight_the_last_one_settled_on() {
        assert_eq!(first_lanes(5, 0), 5, "nothing measured on this network");
        assert_eq!(first_lanes(5, 10), 10);
        assert_eq!(first_lanes(5, 5), 5);
        // A hint from another parallelism stays within this one's bounds.
        assert_eq!(first_lanes(3, 10), 6);
        assert_eq!(first_lanes(3, 1), 3);
    }
}
