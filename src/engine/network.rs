//! Network policy: which networks may carry upload bytes.
//!
//! Pure functions, so the policy table is tested without any I/O. The engine calls
//! [`allows`] whenever the app reports a network change, the policy changes, or the cellular
//! budget runs out, and cancels in-flight requests at once when the answer is no.

use crate::model::{NetworkPolicy, NetworkState, NetworkType};

/// Whether `policy` lets `state` carry upload bytes, given the cellular bytes already spent
/// under a [`NetworkPolicy::CellularBudget`].
pub fn allows(state: &NetworkState, policy: &NetworkPolicy, cellular_bytes_used: u64) -> bool {
    // No network, or a network without internet (captive portal): nothing would get through,
    // and the retries would be counted as failures.
    if state.network_type == NetworkType::None || !state.validated {
        return false;
    }
    let unlimited = matches!(
        state.network_type,
        NetworkType::Wifi | NetworkType::Ethernet | NetworkType::Unknown
    );
    match *policy {
        NetworkPolicy::Any => true,
        NetworkPolicy::WifiOnly => unlimited,
        NetworkPolicy::UnmeteredOnly => !state.metered && !state.roaming,
        NetworkPolicy::CellularBudget { bytes } => {
            unlimited || (!state.roaming && cellular_bytes_used < bytes)
        }
    }
}

/// Whether bytes sent on `state` count against a cellular budget.
pub fn is_cellular(state: &NetworkState) -> bool {
    state.network_type == NetworkType::Cellular
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(
        network_type: NetworkType,
        metered: bool,
        roaming: bool,
        validated: bool,
    ) -> NetworkState {
        NetworkState {
            network_type,
            metered,
            roaming,
            validated,
        }
    }

    #[test]
    fn wifi_only_blocks_cellular_and_offline() {
        let p = NetworkPolicy::WifiOnly;
        assert!(allows(&net(NetworkType::Wifi, false, false, true), &p, 0));
        assert!(
            allows(&net(NetworkType::Wifi, true, false, true), &p, 0),
            "hotspot Wi-Fi is Wi-Fi"
        );
        assert!(allows(
            &net(NetworkType::Ethernet, false, false, true),
            &p,
            0
        ));
        assert!(allows(&NetworkState::UNKNOWN, &p, 0));
        assert!(!allows(
            &net(NetworkType::Cellular, true, false, true),
            &p,
            0
        ));
        assert!(!allows(&net(NetworkType::None, false, false, false), &p, 0));
        assert!(
            !allows(&net(NetworkType::Wifi, false, false, false), &p, 0),
            "captive portal"
        );
    }

    #[test]
    fn unmetered_only_follows_the_flags() {
        let p = NetworkPolicy::UnmeteredOnly;
        assert!(
            allows(&net(NetworkType::Cellular, false, false, true), &p, 0),
            "unmetered 5G"
        );
        assert!(
            !allows(&net(NetworkType::Wifi, true, false, true), &p, 0),
            "hotspot"
        );
        assert!(
            !allows(&net(NetworkType::Cellular, false, true, true), &p, 0),
            "roaming"
        );
    }

    #[test]
    fn cellular_budget_is_spent_then_blocks() {
        let p = NetworkPolicy::CellularBudget { bytes: 1000 };
        let cell = net(NetworkType::Cellular, true, false, true);
        assert!(allows(&cell, &p, 999));
        assert!(!allows(&cell, &p, 1000));
        assert!(allows(
            &net(NetworkType::Wifi, false, false, true),
            &p,
            5000
        ));
        assert!(
            !allows(&net(NetworkType::Cellular, true, true, true), &p, 0),
            "never roaming"
        );
    }

    #[test]
    fn any_needs_only_internet() {
        let p = NetworkPolicy::Any;
        assert!(allows(
            &net(NetworkType::Cellular, true, true, true),
            &p,
            u64::MAX
        ));
        assert!(!allows(
            &net(NetworkType::Cellular, true, false, false),
            &p,
            0
        ));
    }
}
