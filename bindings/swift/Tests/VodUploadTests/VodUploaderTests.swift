import Foundation
import VodUpload
import XCTest

/// The hand-written Swift face against vod-sim: AsyncStreams of the generated UploadEvent and
/// the async conveniences. Every await is bounded by `within`.
final class VodUploaderTests: XCTestCase {
    private var sim: Sim!
    private var dir: URL!
    private var uploader: VodUploader!

    override func setUpWithError() throws {
        sim = try Sim()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("vod-uploader-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        uploader = try VodUploader(config: testConfig(sim, database: dir.appendingPathComponent("uploads.db")))
        try uploader.client.setStsToken(accessKeyId: sim.accessKeyId, accessKeySecret: sim.accessKeySecret)
    }

    override func tearDownWithError() throws {
        uploader?.shutdown()
        uploader = nil // XCTest keeps test case instances for the whole run
        sim?.close()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func testUploadReturnsTheResultAndEveryStreamSeesEveryEvent() async throws {
        let url = try writeFile(in: dir, "clip.mp4", size: 450 * KiB)
        // Two independent streams of the same events, both subscribed before the upload.
        let first = collect(uploader.events())
        let second = collect(uploader.events())
        let result = try await within { [uploader] in try await uploader!.upload(url, vodInfo: VodInfo(title: "clip")) }
        XCTAssertEqual(result.bytes, Int64(450 * KiB))
        XCTAssertNotNil(result.videoId)

        let seen = try await within { await first.value }
        let seenToo = try await within { await second.value }
        XCTAssertEqual(seen, seenToo, "every stream gets every event, in the same order")
        guard case let .started(file)? = seen.first else { return XCTFail("first event \(String(describing: seen.first))") }
        XCTAssertEqual(file.url.lastPathComponent, "clip.mp4")
        let uploaded = seen.compactMap { event -> Int64? in
            if case let .progress(_, uploaded, _) = event { return uploaded }
            return nil
        }
        XCTAssertEqual(uploaded.last, Int64(450 * KiB))
        XCTAssertEqual(uploaded, uploaded.sorted(), "progress is monotonic")
        guard case .succeeded? = seen.dropLast().last else { return XCTFail("succeeded, then allDone: \(seen.map(\.kind))") }
    }

    func testAFailedUploadThrowsTheServiceCode() async throws {
        try sim.faults(#"[{"op":"CreateUploadVideo","action":"status","status":403,"code":"Forbidden.RAM"}]"#)
        let url = try writeFile(in: dir, "denied.mp4", size: 150 * KiB)
        do {
            _ = try await within { [uploader] in try await uploader!.upload(url) }
            XCTFail("uploaded")
        } catch let failure as UploadFailure {
            guard case let .failed(_, code, _) = failure else { return XCTFail("\(failure)") }
            XCTAssertEqual(code, "Forbidden.RAM")
        }
    }

    func testAwaitAllDoneReturnsForAFinishedQueueAndAfterTheLastFile() async throws {
        let emptyDone = await uploader.awaitAllDone(timeout: 5)
        XCTAssertTrue(emptyDone, "an empty queue is done")
        try uploader.client.addFile(at: try writeFile(in: dir, "a.mp4", size: 150 * KiB))
        try uploader.client.addFile(at: try writeFile(in: dir, "b.mp4", size: 150 * KiB))
        let notStarted = await uploader.awaitAllDone(timeout: 0.2)
        XCTAssertFalse(notStarted, "nothing uploads before start(), so the timeout ends the wait")
        uploader.client.start()
        let done = await uploader.awaitAllDone(timeout: waitTimeout)
        XCTAssertTrue(done)
        XCTAssertTrue(uploader.client.listFiles().allSatisfy { $0.status == .succeeded })
    }

    func testCancellingTheTaskCancelsTheFileAndKeepsItsParts() async throws {
        try sim.throttle(bytesPerSecond: 200 * KiB)
        let events = uploader.events()
        let url = try writeFile(in: dir, "cancel.mp4", size: 900 * KiB)
        let upload = Task { [uploader] in try await uploader!.upload(url) }
        let id = try await within { () async throws -> String in
            for await event in events {
                if case let .progress(id, uploaded, _) = event, uploaded > 0 { return id }
            }
            throw Sim.SimError("the stream ended")
        }
        upload.cancel()
        do {
            _ = try await within { try await upload.value }
            XCTFail("the upload finished")
        } catch is CancellationError {}
        XCTAssertEqual(uploader.client.file(fileId: id)?.status, .canceled)

        try sim.throttle(bytesPerSecond: nil)
        try uploader.client.resumeFile(fileId: id)
        let done = await uploader.awaitAllDone(timeout: waitTimeout)
        XCTAssertTrue(done)
        XCTAssertEqual(uploader.client.file(fileId: id)?.status, .succeeded)
        XCTAssertEqual(try sim.stat("multipart_uploads_initiated"), 1, "keepUpload: resumed, not restarted")
    }

    func testProgressOfOneFileEndsWhenItFinishesAndShutdownEndsTheStreams() async throws {
        let url = try writeFile(in: dir, "p.mp4", size: 350 * KiB)
        let id = try uploader.client.addFile(at: url)
        let fractions = uploader.progress(of: id)
        let open = uploader.events()
        uploader.client.start()
        let seen = try await within { () async -> [Double] in
            var all: [Double] = []
            for await fraction in fractions { all.append(fraction) }
            return all
        }
        XCTAssertEqual(seen.last, 1)
        XCTAssertEqual(seen, seen.sorted())

        uploader.shutdown()
        let ended = try await within { () async -> Bool in
            for await _ in open {}
            return true
        }
        XCTAssertTrue(ended, "shutdown() finishes the streams")
        var afterShutdown = uploader.events().makeAsyncIterator()
        let next = await afterShutdown.next()
        XCTAssertNil(next, "a stream of a shut-down client ends at once")
    }

    // MARK: helpers

    /// Events until (and with) `.allDone`.
    private func collect(_ stream: AsyncStream<UploadEvent>) -> Task<[UploadEvent], Never> {
        Task {
            var seen: [UploadEvent] = []
            for await event in stream {
                seen.append(event)
                if case .allDone = event { break }
            }
            return seen
        }
    }
}

/// Runs `operation`, failing with a timeout error after `seconds`, when the operation is also
/// cancelled. It does not wait for a cancelled operation to end (awaiting a `Task`'s value,
/// for one, ignores cancellation), so a hang fails the test instead of stalling the run.
func within<T: Sendable>(
    _ seconds: TimeInterval = waitTimeout,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    return try await withCheckedThrowingContinuation { continuation in
        let once = ResumeOnce(continuation)
        let work = Task {
            do { once.resume(.success(try await operation())) } catch { once.resume(.failure(error)) }
        }
        Task {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
            work.cancel()
            once.resume(.failure(Sim.SimError("timed out after \(Int(seconds)) s")))
        }
    }
}

/// Resumes a continuation once, whoever comes first.
private final class ResumeOnce<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Error>?
    init(_ continuation: CheckedContinuation<T, Error>) { self.continuation = continuation }
    func resume(_ result: Result<T, Error>) {
        lock.lock()
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume(with: result)
    }
}
