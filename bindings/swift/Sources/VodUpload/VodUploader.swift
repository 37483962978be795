import Foundation

/// A file did not upload: `code` is the service's or a client code (`Cancelled` if it was
/// canceled or removed).
public struct UploadFailure: Error, Equatable {
    public let fileId: String
    public let code: String
    public let message: String
}

/// A `VodUploadClient` with its events as `AsyncStream`s and `async` conveniences: the Swift
/// face of the library. Keep one per app (an app-wide singleton, e.g. owned by the `App`) and
/// call `shutdown()` only when the app no longer uploads.
///
/// It installs the client's one `UploadListener`; iterate `events()` instead of setting
/// another. Every stream gets every event from its creation on, in order.
public final class VodUploader: @unchecked Sendable {
    public let client: VodUploadClient
    private let hub = EventHub()

    public convenience init(config: ClientConfig) throws {
        try self.init(client: VodUploadClient(config: config))
    }

    public init(client: VodUploadClient) throws {
        self.client = client
        try client.setListener(listener: hub)
    }

    /// A new stream of the client's events from now on. It ends when the iterating task is
    /// cancelled or at `shutdown()`. With the default policy nothing is dropped.
    public func events(
        bufferingPolicy: AsyncStream<UploadEvent>.Continuation.BufferingPolicy = .unbounded
    ) -> AsyncStream<UploadEvent> {
        hub.subscribe(bufferingPolicy)
    }

    /// Progress of one file as a fraction in `0...1`.
    public func progress(fileId: String) -> AsyncStream<Double> {
        let source = events()
        return AsyncStream { continuation in
            let task = Task {
                for await event in source {
                    if case let .progress(id, uploaded, total) = event, id == fileId {
                        continuation.yield(total == 0 ? 1 : Double(uploaded) / Double(total))
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Adds `path` to the queue, starts the queue unless it is paused, and returns when the
    /// file is uploaded. Throws `UploadFailure` if it fails or is canceled. Cancelling the
    /// calling task cancels the file, keeping its uploaded parts (`resumeFile` continues it).
    public func upload(path: String, vodInfo: VodInfo = VodInfo(), target: UploadTarget? = nil) async throws -> UploadResult {
        let stream = events() // subscribed before the file exists: no event can be missed
        let fileId = try client.addFile(path: path, vodInfo: vodInfo, target: target)
        if client.status() != .paused {
            try client.start()
        }
        for await event in stream {
            switch event {
            case let .succeeded(file, result) where file.id == fileId:
                return result
            case let .failed(file, code, message) where file.id == fileId:
                throw UploadFailure(fileId: fileId, code: code, message: message)
            case .allDone:
                // A canceled or deleted file has no event of its own.
                let status = client.file(fileId: fileId)?.status
                if status == nil || status == .canceled {
                    throw UploadFailure(fileId: fileId, code: "Cancelled", message: "the file was canceled or removed")
                }
            default:
                continue
            }
        }
        if Task.isCancelled {
            try? client.cancelFile(fileId: fileId, keepUpload: true)
            throw CancellationError()
        }
        throw VodUploadError.Closed
    }

    /// Returns when every file in the queue is finished (at once if it already is).
    public func awaitAllDone() async {
        let stream = events()
        if client.listFiles().allSatisfy({ $0.status.isFinished }) {
            return
        }
        for await event in stream {
            if case .allDone = event {
                return
            }
        }
    }

    /// Shuts the client down (uploads stop, checkpoints stay) and ends every event stream.
    public func shutdown() {
        client.shutdown()
        hub.finishAll()
    }
}

/// The client's listener: fans every event out to the open streams.
final class EventHub: UploadListener, @unchecked Sendable {
    private let lock = NSLock()
    private var streams: [UUID: AsyncStream<UploadEvent>.Continuation] = [:]

    func subscribe(_ policy: AsyncStream<UploadEvent>.Continuation.BufferingPolicy) -> AsyncStream<UploadEvent> {
        // The closure runs before `AsyncStream.init` returns: the stream is registered at once.
        AsyncStream(bufferingPolicy: policy) { continuation in
            let id = UUID()
            lock.lock()
            streams[id] = continuation
            lock.unlock()
            continuation.onTermination = { [weak self] _ in self?.remove(id) }
        }
    }

    func finishAll() {
        lock.lock()
        let all = Array(streams.values)
        streams.removeAll()
        lock.unlock()
        all.forEach { $0.finish() }
    }

    private func remove(_ id: UUID) {
        lock.lock()
        streams[id] = nil
        lock.unlock()
    }

    private func send(_ event: UploadEvent) {
        lock.lock()
        let all = Array(streams.values)
        lock.unlock()
        for continuation in all {
            continuation.yield(event)
        }
    }

    func started(file: FileInfo) throws { send(.started(file)) }
    func progress(fileId: String, uploaded: UInt64, total: UInt64) throws {
        send(.progress(fileId: fileId, uploaded: uploaded, total: total))
    }
    func succeeded(file: FileInfo, result: UploadResult) throws { send(.succeeded(file, result)) }
    func failed(file: FileInfo, code: String, message: String) throws {
        send(.failed(file, code: code, message: message))
    }
    func tokenExpired(file: FileInfo) throws { send(.tokenExpired(file)) }
    func retry(file: FileInfo, code: String, message: String) throws {
        send(.retry(file, code: code, message: message))
    }
    func retryResume(file: FileInfo) throws { send(.retryResume(file)) }
    func waiting(file: FileInfo, reason: WaitingReason) throws { send(.waiting(file, reason)) }
    func allDone() throws { send(.allDone) }
}
