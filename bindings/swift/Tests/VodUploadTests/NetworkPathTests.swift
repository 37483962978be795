import VodUpload
import XCTest

/// The NWPath → NetworkState mapping that NetworkMonitor applies on iOS, as a pure function.
final class NetworkPathTests: XCTestCase {
    private func state(
        _ interfaces: Set<NetworkPath.Interface>,
        status: NetworkPath.Status = .satisfied,
        expensive: Bool = false,
        constrained: Bool = false
    ) -> NetworkState {
        NetworkState(NetworkPath(status: status, interfaces: interfaces, isExpensive: expensive, isConstrained: constrained))
    }

    func testEachInterfaceMapsToItsNetworkType() {
        XCTAssertEqual(state([.wifi]), NetworkState(networkType: .wifi, metered: false, roaming: false, validated: true))
        XCTAssertEqual(state([.wiredEthernet]), NetworkState(networkType: .ethernet, metered: false, roaming: false, validated: true))
        XCTAssertEqual(state([.cellular], expensive: true), NetworkState(networkType: .cellular, metered: true, roaming: false, validated: true))
        // Nothing the policies know (loopback only, a VPN whose interface is not reported):
        // unknown, which they allow, rather than offline, which would stop everything.
        XCTAssertEqual(state([.other]).networkType, .unknown)
        XCTAssertEqual(state([.loopback]).networkType, .unknown)
        XCTAssertEqual(state([]).networkType, .unknown)
    }

    func testWifiWinsOverCellularAndWiredOverCellular() {
        // A VPN over Wi-Fi uses `other` and `wifi`; Wi-Fi Assist may report cellular too.
        XCTAssertEqual(state([.other, .wifi]).networkType, .wifi)
        XCTAssertEqual(state([.wifi, .cellular]).networkType, .wifi)
        XCTAssertEqual(state([.wiredEthernet, .cellular]).networkType, .ethernet)
        XCTAssertEqual(state([.other, .cellular], expensive: true).networkType, .cellular)
    }

    func testExpensiveAndConstrainedPathsAreMetered() {
        let hotspot = state([.wifi], expensive: true)
        XCTAssertEqual(hotspot.networkType, .wifi, "a phone's hotspot is still Wi-Fi")
        XCTAssertTrue(hotspot.metered)
        let lowDataMode = state([.wifi], constrained: true)
        XCTAssertTrue(lowDataMode.metered)
        XCTAssertFalse(state([.cellular]).metered, "cellular the system does not call expensive")
        XCTAssertFalse(hotspot.roaming, "iOS does not report roaming")
    }

    func testAPathThatIsNotSatisfiedIsOfflineAndNotValidated() {
        for status in [NetworkPath.Status.unsatisfied, .requiresConnection] {
            let offline = state([.wifi], status: status)
            XCTAssertEqual(offline.networkType, .offline, "\(status)")
            XCTAssertFalse(offline.validated)
        }
        XCTAssertTrue(state([.cellular]).validated)
    }
}
