import Network
import VodUpload

/// Follows the current path with `NWPathMonitor` and reports every change as the library's
/// `NetworkState`: `isExpensive` (cellular, a phone's hotspot) or `isConstrained` (Low Data
/// Mode) count as metered; only a satisfied path counts as validated. iOS does not expose
/// roaming; Wi-Fi-only policies already keep uploads off cellular.
final class NetworkMonitor {
    private let monitor = NWPathMonitor()
    private let queue = DispatchQueue(label: "dev.vodupload.sample.network")

    func start(onChange: @escaping (NetworkState) -> Void) {
        monitor.pathUpdateHandler = { path in onChange(NetworkState(path: path)) }
        monitor.start(queue: queue)
    }

    func stop() {
        monitor.cancel()
    }
}

extension NetworkState {
    init(path: NWPath) {
        let type: NetworkType
        if path.status != .satisfied {
            type = .offline
        } else if path.usesInterfaceType(.wifi) {
            type = .wifi
        } else if path.usesInterfaceType(.wiredEthernet) {
            type = .ethernet
        } else if path.usesInterfaceType(.cellular) {
            type = .cellular
        } else {
            type = .unknown
        }
        self.init(
            networkType: type,
            metered: path.isExpensive || path.isConstrained,
            roaming: false,
            validated: path.status == .satisfied
        )
    }
}
