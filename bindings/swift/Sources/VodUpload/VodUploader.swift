import Foundation

/// Why `VodUploader.upload` did not return a result.
public enum UploadFailure: Error, Equatable, Sendable {
    /// The file failed for good: `code` is the service's or a client code.
    case failed(fileId: String, code: String, message: String)
    /// The file was canceled (`cancelFile`) or, with `deleted`, removed from the queue.
    case canceled(fileId: String, deleted: Bool)

    public var fileId: String {
        switch self {
        case let .failed(fileId, _, _), let .canceled(fileId, _): return fileId
        }
    }
}

/// A `VodUploadClient` with its events as `AsyncStream`s of the generated `UploadEvent` and
/// `async` conveniences: the Swift face of the library. Keep one per app (an app-wide
/// singleton, e.g. owned by the `App`) and call `shutdown()` only when the app no longer
/// uploads.
///
/// Every stream is its own `subscribe()` on the client: it gets every event from its creation
/// on, in order, and the client's one `setListener` slot stays free.
public final class VodUploader: Sendable {
    public let client: VodUploadClient
    private let streams = OpenStreams()

    public convenience init(config: ClientConfig) throws {
        self.init(client: try VodUploadClient(config: config))
    }

    public init(client: VodUploadClient) {
        self.client = client
    }

    /// A new stream of the client's events from now on (subscribed before this returns, so
    /// nothing that happens after the call is missed). It ends when the iterating task is
    /// cancelled, when the stream is dropped, or at `shutdown()` (this one, not the client's
    /// own, which stops the events but cannot end the streams). With the default policy
    /// nothing is dropped; a slow consumer only buffers.
    public func events(
        bufferingPolicy: AsyncStream<UploadEvent>.Continuation.BufferingPolicy = .unbounded
    ) -> AsyncStream<UploadEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: UploadEvent.self, bufferingPolicy: bufferingPolicy)
        guard let subscription = try? client.subscribe(listener: StreamListener(continuation)) else {
            continuation.finish() // shut down: no event will ever come
            return stream
        }
        let id = streams.add(continuation)
        continuation.onTermination = { [streams] _ in
            subscription.cancel()
            streams.remove(id)
        }
        return stream
    }

    /// Progress of one file as a fraction in `0...1`, until it finishes.
    public func progress(of fileId: String) -> AsyncStream<Double> {
        let source = events()
        return AsyncStream { continuation in
            let task = Task {
                for await event in source where event.fileId == fileId {
                    switch event {
                    case let .progress(_, uploaded, total):
                        continuation.yield(total == 0 ? 1 : Double(uploaded) / Double(total))
                    case .succeeded, .failed, .canceled:
                        continuation.finish()
                        return
                    default:
                        continue
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Adds `file` to the queue, starts the queue unless it is paused, and returns when the
    /// file is uploaded. Throws `UploadFailure` if it fails or is canceled. Cancelling the
    /// calling task cancels the file, keeping its uploaded parts (`resumeFile` continues it),
    /// and throws `CancellationError`.
    public func upload(_ file: URL, vodInfo: VodInfo = VodInfo(), target: UploadTarget? = nil) async throws -> UploadResult {
        let stream = events() // subscribed before the file exists: no event can be missed
        let fileId = try client.addFile(at: file, vodInfo: vodInfo, target: target)
        if client.status() != .paused {
            client.start()
        }
        for await event in stream where event.fileId == fileId {
            switch event {
            case let .succeeded(_, result):
                return result
            case let .failed(_, code, message):
                throw UploadFailure.failed(fileId: fileId, code: code, message: message)
            case let .canceled(_, deleted):
                throw UploadFailure.canceled(fileId: fileId, deleted: deleted)
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

    /// Returns when every file in the queue is finished (at once if it already is), or when
    /// `timeout` passes first; returns whether the queue finished.
    @discardableResult
    public func awaitAllDone(timeout: TimeInterval? = nil) async -> Bool {
        let stream = events() // before looking at the queue, so its end cannot slip between
        if client.listFiles().allSatisfy({ $0.status.isFinished }) {
            return true
        }
        let done = Task {
            for await event in stream {
                if case .allDone = event { return true }
            }
            return false
        }
        guard let timeout else { return await done.value }
        let timer = Task {
            try await Task.sleep(nanoseconds: UInt64(max(0, timeout) * 1_000_000_000))
            done.cancel() // ends the iteration, which returns false
        }
        defer { timer.cancel() }
        return await done.value
    }

    /// Shuts the client down (uploads stop, checkpoints stay) and ends every event stream.
    public func shutdown() {
        client.shutdown()
        streams.finishAll()
    }
}

public extension UploadEvent {
    /// The id of the file the event is about; `nil` for `.allDone`.
    var fileId: String? {
        switch self {
        case let .started(file), let .succeeded(file, _), let .failed(file, _, _), let .canceled(file, _),
             let .tokenExpired(file), let .retry(file, _, _), let .retryResume(file), let .waiting(file, _):
            return file.id
        case let .progress(fileId, _, _):
            return fileId
        case .allDone:
            return nil
        }
    }
}

/// One subscription's listener: yields into its stream, from the library's event thread.
private final class StreamListener: UploadEventListener {
    private let continuation: AsyncStream<UploadEvent>.Continuation

    init(_ continuation: AsyncStream<UploadEvent>.Continuation) {
        self.continuation = continuation
    }

    func onEvent(event: UploadEvent) throws {
        continuation.yield(event)
    }

    // No `finish()` in deinit: the library releases subscribers while it holds its subscriber
    // lock (shutdown, cancel), and finishing runs `onTermination`, which cancels the
    // subscription and so takes that lock again. Streams end through `onTermination` and
    // `VodUploader.shutdown()` instead.
}

/// The streams still open, so `shutdown()` can end them all.
private final class OpenStreams: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var open: [Int: AsyncStream<UploadEvent>.Continuation] = [:]

    func add(_ continuation: AsyncStream<UploadEvent>.Continuation) -> Int {
        lock.lock()
        defer { lock.unlock() }
        next += 1
        open[next] = continuation
        return next
    }

    func remove(_ id: Int) {
        lock.lock()
        open[id] = nil
        lock.unlock()
    }

    func finishAll() {
        lock.lock()
        let all = Array(open.values)
        open.removeAll()
        lock.unlock()
        all.forEach { $0.finish() }
    }
}
