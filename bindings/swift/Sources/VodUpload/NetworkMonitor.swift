import Foundation

/// The facts of a network path that decide the library's `NetworkState`: an `NWPath` as plain
/// values. The mapping (`NetworkState.init(_:)`) is a pure function of them, so it is the same
/// code on iOS and in the Linux tests; `NetworkMonitor` feeds it real paths.
public struct NetworkPath: Equatable, Sendable {
    /// `NWPath.Status`.
    public enum Status: Equatable, Sendable {
        case satisfied
        case unsatisfied
        /// Not connected now, but would be on demand (e.g. an on-demand VPN).
        case requiresConnection
    }

    /// `NWInterface.InterfaceType`.
    public enum Interface: Hashable, Sendable {
        case wifi, cellular, wiredEthernet, loopback, other
    }

    public var status: Status
    /// The interface types the path uses (`NWPath.usesInterfaceType`); a VPN path uses `other`
    /// and the interface under it.
    public var interfaces: Set<Interface>
    /// Cellular, or Wi-Fi from a phone's personal hotspot (`NWPath.isExpensive`).
    public var isExpensive: Bool
    /// Low Data Mode (`NWPath.isConstrained`).
    public var isConstrained: Bool

    public init(status: Status, interfaces: Set<Interface>, isExpensive: Bool = false, isConstrained: Bool = false) {
        self.status = status
        self.interfaces = interfaces
        self.isExpensive = isExpensive
        self.isConstrained = isConstrained
    }
}

public extension NetworkState {
    /// What the library should know about `path`:
    ///
    /// - Not satisfied (or only on demand): `.offline`, so nothing starts a request that
    ///   cannot succeed.
    /// - Otherwise the most capable interface wins: Wi-Fi, then wired, then cellular; a path
    ///   with none of them (a loopback or VPN-only path) is `.unknown`, which the policies allow.
    /// - `isExpensive` or `isConstrained` make it metered: a hotspot is Wi-Fi the user pays
    ///   for, and Low Data Mode asks apps to hold back, so `.unmeteredOnly` waits on both.
    /// - iOS does not tell apps about roaming: `roaming` is false (the Wi-Fi-only default keeps
    ///   uploads off cellular anyway). `validated` is a satisfied status.
    init(_ path: NetworkPath) {
        let type: NetworkType
        if path.status != .satisfied {
            type = .offline
        } else if path.interfaces.contains(.wifi) {
            type = .wifi
        } else if path.interfaces.contains(.wiredEthernet) {
            type = .ethernet
        } else if path.interfaces.contains(.cellular) {
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

#if canImport(Network)
import Network

public extension NetworkPath {
    /// The facts of a path from `NWPathMonitor`.
    init(_ path: NWPath) {
        let status: Status
        switch path.status {
        case .satisfied: status = .satisfied
        case .requiresConnection: status = .requiresConnection
        case .unsatisfied: status = .unsatisfied
        @unknown default: status = .unsatisfied
        }
        let kinds: [(NWInterface.InterfaceType, Interface)] = [
            (.wifi, .wifi), (.cellular, .cellular), (.wiredEthernet, .wiredEthernet),
            (.loopback, .loopback), (.other, .other),
        ]
        self.init(
            status: status,
            interfaces: Set(kinds.filter { path.usesInterfaceType($0.0) }.map(\.1)),
            isExpensive: path.isExpensive,
            isConstrained: path.isConstrained
        )
    }
}

/// Follows the device's network with `NWPathMonitor` and reports every change as a
/// `NetworkState`, so the client's network policy (Wi-Fi only by default) sees what the phone
/// does: a switch to cellular pauses the uploads at once, Wi-Fi resumes them.
///
///     let monitor = NetworkMonitor()
///     monitor.start(reportingTo: uploader.client)   // keep `monitor` as long as the client
///
/// Start a monitor once; after `cancel()` make a new one (NWPathMonitor cannot restart).
public final class NetworkMonitor: @unchecked Sendable {
    // NWPathMonitor is thread-safe; its handler runs on `queue` only.
    private let monitor = NWPathMonitor()
    private let queue = DispatchQueue(label: "dev.vodupload.network-monitor")

    public init() {}

    /// The state of the monitor's current path (meaningful once it has started).
    public var currentState: NetworkState {
        NetworkState(NetworkPath(monitor.currentPath))
    }

    /// Calls `onChange` with the first path and then on every change, on a private queue.
    public func start(onChange: @escaping @Sendable (NetworkState) -> Void) {
        monitor.pathUpdateHandler = { path in onChange(NetworkState(NetworkPath(path))) }
        monitor.start(queue: queue)
    }

    /// Reports every change to `client` (`setNetworkState`).
    public func start(reportingTo client: VodUploadClient) {
        start { state in client.report(networkState: state) }
    }

    public func cancel() {
        monitor.cancel()
    }

    deinit {
        monitor.cancel()
    }
}
#endif
