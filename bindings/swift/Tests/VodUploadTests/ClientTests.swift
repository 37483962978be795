import Foundation
import VodUpload
import XCTest

/// The generated API against vod-sim: the native SDK's flows, as the Kotlin ClientTest and the
/// Python tests drive them. Events come through `subscribe` into a `Recorder`; every wait has a
/// deadline.
final class ClientTests: XCTestCase {
    private var sim: Sim!
    private var dir: URL!
    private var clients: [VodUploadClient] = []
    /// Kept for the test's length: dropping a subscription ends it.
    private var subscriptions: [EventSubscription] = []

    override func setUpWithError() throws {
        sim = try Sim()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("vod-upload-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        subscriptions.forEach { $0.cancel() }
        subscriptions = []
        clients.reversed().forEach { $0.shutdown() }
        clients = []
        sim?.close()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    private var database: URL { dir.appendingPathComponent("uploads.db") }

    /// A client on the test's database, its events into a new Recorder; mode 2 with the
    /// simulator's account key unless `sts` is false.
    private func makeClient(sts: Bool = true, database: URL? = nil) throws -> (VodUploadClient, Recorder) {
        let client = try VodUploadClient(config: testConfig(sim, database: database ?? self.database))
        clients.append(client)
        let recorder = Recorder()
        subscriptions.append(try client.subscribe(listener: recorder))
        if sts {
            try client.setStsToken(accessKeyId: sim.accessKeyId, accessKeySecret: sim.accessKeySecret)
        }
        return (client, recorder)
    }

    func testTheGeneratedBindingsLoadTheHostLibrary() {
        XCTAssertTrue(coreVersion().hasPrefix("vod-upload "), coreVersion())
        // And the tests' own RPC signing (the app server's side), RFC 2202 test case 2.
        let mac = hmacSHA1(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        XCTAssertEqual(mac.map { String(format: "%02x", $0) }.joined(), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    }

    func testTheQueueUploadsEveryFileInOrderOnLibraryThreads() throws {
        let (client, recorder) = try makeClient()
        let files = [
            try writeFile(in: dir, "small.mp4", size: 50 * KiB), // one PutObject
            try writeFile(in: dir, "big.mp4", size: 450 * KiB), // multipart, 5 parts
            try writeFile(in: dir, "cover.png", size: 120 * KiB), // CreateUploadImage
        ]
        let ids = try files.enumerated().map { try client.addFile(at: $1, vodInfo: VodInfo(title: "t\($0)")) }
        XCTAssertEqual(client.listFiles().map(\.id), ids)
        XCTAssertEqual(client.status(), .idle)

        client.start()
        try recorder.first("allDone") { if case .allDone = $0 { return true }; return nil }

        let events = recorder.snapshot
        XCTAssertFalse(recorder.sawMainThread, "events come on the library's thread")
        for (id, url) in zip(ids, files) {
            let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber).int64Value
            let (file, result) = try XCTUnwrap(events.lazy.compactMap { e -> (FileInfo, UploadResult)? in
                if case let .succeeded(f, r) = e, f.id == id { return (f, r) }
                return nil
            }.first)
            XCTAssertEqual(result.bytes, size)
            XCTAssertEqual(result.crc64, file.crc64, "the engine's CRC-64 matches the server's")
            let steps = events.compactMap { e -> Int64? in
                if case let .progress(fileId, uploaded, _) = e, fileId == id { return uploaded }
                return nil
            }
            XCTAssertEqual(steps.last, size)
            XCTAssertEqual(steps, steps.sorted(), "progress is monotonic")
        }
        let started = events.compactMap { e -> String? in if case let .started(f) = e { return f.id }; return nil }
        XCTAssertEqual(started, ids, "one at a time, in order")
        let results = try ids.map { try recorder.succeeded($0) }
        XCTAssertNotNil(results[1].videoId)
        XCTAssertNotNil(results[2].imageUrl)
        XCTAssertTrue(client.listFiles().allSatisfy { $0.status == .succeeded })
        XCTAssertEqual(try sim.stat("multipart_uploads_completed"), 2)
    }

    func testAFileURLUploadsInPlaceThroughTheSourceOpener() throws {
        let (client, recorder) = try makeClient()
        let picked = try writeFile(in: dir, "picked.mp4", size: 450 * KiB)
        let twin = dir.appendingPathComponent("twin.mp4")
        try FileManager.default.copyItem(at: picked, to: twin)
        XCTAssertThrowsError(try client.addUri(picked), "no opener yet") { error in
            guard case VodUploadError.FileNotFound = error else { return XCTFail("\(error)") }
        }
        try client.setSourceOpener(opener: FileURLSourceOpener())
        XCTAssertThrowsError(try client.addUri(dir.appendingPathComponent("missing.mp4")))

        let byUri = try client.addUri(picked)
        let byPath = try client.addFile(at: twin)
        let info = try XCTUnwrap(client.file(fileId: byUri))
        XCTAssertTrue(info.isUri)
        XCTAssertEqual(info.path, picked.absoluteString)
        XCTAssertEqual(info.bytesTotal, Int64(450 * KiB))
        client.start()
        let viaSource = try recorder.succeeded(byUri)
        let viaPath = try recorder.succeeded(byPath)
        XCTAssertEqual(viaSource.bytes, viaPath.bytes)
        XCTAssertEqual(viaSource.crc64, viaPath.crc64, "the same bytes reached the server")
        XCTAssertTrue(viaSource.objectKey.hasSuffix(".mp4"), viaSource.objectKey)
    }

    func testPauseAndResumeContinueTheSameMultipartUpload() throws {
        let (client, recorder) = try makeClient()
        try sim.throttle(bytesPerSecond: 400 * KiB)
        let id = try client.addFile(at: try writeFile(in: dir, "long.mp4", size: 1200 * KiB))
        client.start()
        try recorder.someProgress()

        client.pause()
        XCTAssertEqual(client.status(), .paused)
        let reason = try recorder.first("waiting \(id)") { e -> WaitingReason? in
            if case let .waiting(file, reason) = e, file.id == id { return reason }
            return nil
        }
        XCTAssertEqual(reason, .paused)
        XCTAssertEqual(client.file(fileId: id)?.status, .paused)

        try sim.throttle(bytesPerSecond: nil)
        client.resume()
        XCTAssertEqual(try recorder.succeeded(id).bytes, Int64(1200 * KiB))
        XCTAssertEqual(try sim.stat("multipart_uploads_initiated"), 1, "resumed, not restarted")
        XCTAssertEqual(recorder.count("failed"), 0)
    }

    /// `checkpoint` reads the ledger: nothing before the upload begins or after it ends, the
    /// multipart state while paused.
    func testCheckpointReadsTheUploadState() throws {
        let (client, recorder) = try makeClient()
        try sim.throttle(bytesPerSecond: 300 * KiB)
        let id = try client.addFile(at: try writeFile(in: dir, "checkpoint.mp4", size: 900 * KiB))
        XCTAssertNil(try client.checkpoint(fileId: id), "not started")
        XCTAssertNil(try client.checkpoint(fileId: "no-such-file"))
        client.start()
        // Past two parts in flight (100 KiB each): at least one is confirmed.
        try recorder.first("a confirmed part") { e -> Bool? in
            if case let .progress(_, uploaded, _) = e, uploaded > Int64(200 * KiB) { return true }
            return nil
        }
        client.pause()
        try recorder.first("waiting \(id)") { if case let .waiting(file, _) = $0, file.id == id { return true }; return nil }

        let cp = try XCTUnwrap(client.checkpoint(fileId: id))
        XCTAssertFalse(try XCTUnwrap(cp.uploadId).isEmpty)
        XCTAssertGreaterThanOrEqual(cp.partsDone, 1)
        XCTAssertEqual(cp.bytesDone, Int64(cp.partsDone) * cp.partSize)
        XCTAssertEqual(cp.fileSize, Int64(900 * KiB))
        XCTAssertEqual(cp.videoId, client.file(fileId: id)?.videoId)
        let initiates = try sim.requests("InitiateMultipartUpload")
        XCTAssertEqual(initiates.count, 1)
        let path = try XCTUnwrap(initiates.first).path
        XCTAssertTrue(path.hasSuffix(cp.objectKey), "\(path) does not end with \(cp.objectKey)")

        try sim.throttle(bytesPerSecond: nil)
        client.resume()
        try recorder.succeeded(id)
        XCTAssertNil(try client.checkpoint(fileId: id), "finished")
    }

    /// `vodInfoFromJson` takes the JS SDK's `{"Vod": {...}}` document, rejects a malformed or
    /// misspelled one, and its values reach CreateUploadVideo.
    func testVodInfoFromJson() throws {
        let info = try vodInfoFromJson(json: #"{"Vod":{"Title":"test","CateId":"234","UserData":{"Extend":{"k":"v"}}}}"#)
        XCTAssertEqual(info.title, "test")
        XCTAssertEqual(info.cateId, 234)
        // The JS SDK document's own sample has a stray quote: a clear error.
        XCTAssertThrowsError(try vodInfoFromJson(json: #"{"Vod":{"Title":"test","CateId":"234"}"}"#)) { error in
            guard case let .InvalidArgument(detail)? = error as? VodUploadError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("not JSON"), detail)
        }
        XCTAssertThrowsError(try vodInfoFromJson(json: #"{"Vod":{"Titel":"x"}}"#)) { error in
            guard case let .InvalidArgument(detail)? = error as? VodUploadError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("Titel"), detail)
        }

        let (client, recorder) = try makeClient()
        let id = try client.addFile(at: try writeFile(in: dir, "seed.mp4", size: 50 * KiB), vodInfo: info)
        client.start()
        try recorder.succeeded(id)
        let creates = try sim.requests("CreateUploadVideo")
        XCTAssertEqual(creates.count, 1)
        let create = try XCTUnwrap(creates.first)
        XCTAssertEqual(create.params["Title"], "test")
        XCTAssertEqual(create.params["CateId"], "234")
        let userData = try XCTUnwrap(create.params["UserData"])
        let extend = (try JSONSerialization.jsonObject(with: Data(userData.utf8)) as? [String: Any])?["Extend"]
        XCTAssertEqual(extend as? [String: String], ["k": "v"], userData)
        XCTAssertThrowsError(try client.addFile(at: try writeFile(in: dir, "notes.txt", size: KiB))) { error in
            guard case let .InvalidArgument(detail)? = error as? VodUploadError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("does not take .txt"), detail)
        }
    }

    func testCellularWaitsUnderWifiOnlyAndWifiResumes() throws {
        let (client, recorder) = try makeClient()
        try client.setNetworkPolicy(policy: .wifiOnly)
        try sim.throttle(bytesPerSecond: 300 * KiB)
        let id = try client.addFile(at: try writeFile(in: dir, "net.mp4", size: 900 * KiB))
        client.start()
        try recorder.someProgress()

        // What NetworkMonitor reports when the phone leaves Wi-Fi for cellular.
        let mark = recorder.snapshot.count
        client.report(networkState: NetworkState(NetworkPath(status: .satisfied, interfaces: [.cellular], isExpensive: true)))
        let reason = try recorder.first("waiting \(id)", after: mark) { e -> WaitingReason? in
            if case let .waiting(file, reason) = e, file.id == id { return reason }
            return nil
        }
        XCTAssertEqual(reason, .network)

        try sim.throttle(bytesPerSecond: nil)
        client.report(networkState: NetworkState(NetworkPath(status: .satisfied, interfaces: [.wifi])))
        try recorder.succeeded(id)
        XCTAssertEqual(try sim.stat("multipart_uploads_initiated"), 1)
        XCTAssertEqual(recorder.count("failed") + recorder.count("retry"), 0, "a network switch is not a failure")
    }

    /// Mode 1, the native flow: `started` → the app server's CreateUploadVideo →
    /// `setUploadAuthAndAddress`; `tokenExpired` → RefreshUploadVideo → `resumeWithAuth`.
    func testMode1TokenExpiryIsAnsweredWithResumeWithAuth() throws {
        let (client, recorder) = try makeClient(sts: false)
        let appServer = AppServer(sim: sim, client: client)
        let subscription = try client.subscribe(listener: appServer)
        try sim.throttle(bytesPerSecond: 300 * KiB)
        let id = try client.addFile(at: try writeFile(in: dir, "mode1.mp4", size: 900 * KiB))
        client.start()
        try recorder.someProgress()

        XCTAssertGreaterThanOrEqual(try sim.expireTokens(), 1)
        let expired = try recorder.first("tokenExpired \(id)") { e -> FileInfo? in
            if case let .tokenExpired(file) = e, file.id == id { return file }
            return nil
        }
        let videoId = try XCTUnwrap(appServer.videos[id])
        XCTAssertEqual(expired.videoId, videoId)

        try sim.throttle(bytesPerSecond: nil)
        try client.resumeWithAuth(uploadAuth: try sim.refreshUploadVideo(videoId: videoId).uploadAuth)
        XCTAssertEqual(try recorder.succeeded(id).videoId, videoId)
        XCTAssertEqual(try sim.stat("multipart_uploads_initiated"), 1, "the same multipart upload continued")
        XCTAssertEqual(recorder.count("failed"), 0)
        subscription.cancel()
    }

    /// Mode 2 with an STS token from the app server: when it expires, `tokenExpired`, and a
    /// fresh token through `resumeWithToken` continues the same upload.
    func testMode2TokenExpiryIsAnsweredWithResumeWithToken() throws {
        let (client, recorder) = try makeClient(sts: false)
        let token = try sim.assumeRole()
        try client.setStsToken(accessKeyId: token.accessKeyId, accessKeySecret: token.accessKeySecret, securityToken: token.securityToken)
        try sim.throttle(bytesPerSecond: 300 * KiB)
        let id = try client.addFile(at: try writeFile(in: dir, "sts.mp4", size: 900 * KiB))
        client.start()
        try recorder.someProgress()

        try sim.expireTokens()
        try recorder.first("tokenExpired \(id)") { if case let .tokenExpired(file) = $0, file.id == id { return true }; return nil }
        try sim.throttle(bytesPerSecond: nil)
        let fresh = try sim.assumeRole()
        try client.resumeWithToken(
            accessKeyId: fresh.accessKeyId, accessKeySecret: fresh.accessKeySecret, securityToken: fresh.securityToken,
            expiration: Date(timeIntervalSinceNow: 3600)
        )
        XCTAssertEqual(try recorder.succeeded(id).bytes, Int64(900 * KiB))
        XCTAssertEqual(try sim.stat("multipart_uploads_initiated"), 1)
    }

    /// Mode 1 after a restart: the file already has a video, so `started` carries its id and
    /// the app server refreshes that video instead of creating a second one.
    func testMode1RestartRefreshesTheSameVideo() throws {
        let id: String
        let videoId: String
        do {
            let (first, recorder) = try makeClient(sts: false)
            let appServer = AppServer(sim: sim, client: first)
            let subscription = try first.subscribe(listener: appServer)
            try sim.throttle(bytesPerSecond: 300 * KiB)
            id = try first.addFile(at: try writeFile(in: dir, "restart1.mp4", size: 900 * KiB))
            first.start()
            try recorder.wait(for: "confirmed bytes") { _ in (first.file(fileId: id)?.bytesUploaded ?? 0) > 0 ? true : nil }
            videoId = try XCTUnwrap(appServer.videos[id])
            subscription.cancel()
            first.shutdown()
        }
        try sim.throttle(bytesPerSecond: nil)

        let (second, recorder) = try makeClient(sts: false)
        let appServer = AppServer(sim: sim, client: second)
        let subscription = try second.subscribe(listener: appServer)
        second.start()
        let restarted = try recorder.first("started \(id)") { e -> FileInfo? in
            if case let .started(file) = e, file.id == id { return file }
            return nil
        }
        XCTAssertEqual(restarted.videoId, videoId, "started says which video the file continues")
        XCTAssertEqual(try recorder.succeeded(id).videoId, videoId)
        XCTAssertEqual(appServer.created, 0, "no second video")
        XCTAssertEqual(try sim.stat("multipart_uploads_initiated"), 1)
        subscription.cancel()
    }

    func testCancelResumeAndDelete() throws {
        let (client, recorder) = try makeClient()
        let a = try client.addFile(at: try writeFile(in: dir, "a.mp4", size: 150 * KiB))
        let b = try client.addFile(at: try writeFile(in: dir, "b.mp4", size: 150 * KiB))
        let c = try client.addFile(at: try writeFile(in: dir, "c.mp4", size: 150 * KiB))
        try client.cancelFile(fileId: b, keepUpload: true)
        XCTAssertEqual(client.file(fileId: b)?.status, .canceled)
        try client.deleteFile(fileId: c)
        XCTAssertEqual(client.listFiles().map(\.id), [a, b])
        let canceled = try recorder.wait(for: "canceled b and c") { events -> [String: Bool]? in
            var seen: [String: Bool] = [:]
            for case let .canceled(file, deleted) in events { seen[file.id] = deleted }
            return seen.count == 2 ? seen : nil
        }
        XCTAssertEqual(canceled, [b: false, c: true], "cancel keeps the file, delete removes it")

        client.start()
        try recorder.succeeded(a)
        try recorder.first("allDone") { if case .allDone = $0 { return true }; return nil }
        XCTAssertEqual(client.file(fileId: b)?.status, .canceled, "a canceled file waits for resumeFile")

        try client.resumeFile(fileId: b)
        try recorder.succeeded(b)
        try client.clearFiles()
        XCTAssertEqual(client.listFiles(), [])
    }

    /// The native rule (docs/control.md): a call that does not apply in the current state
    /// returns normally and changes nothing.
    func testCallsThatDoNotApplyAreIgnored() throws {
        let (client, recorder) = try makeClient()
        client.pause() // idle
        client.resume() // not paused
        client.stop() // idle
        XCTAssertEqual(client.status(), .idle)
        try client.deleteFile(fileId: "no-such-id")
        try client.cancelFileAt(index: 7, keepUpload: true)
        try client.resumeFile(fileId: "no-such-id")

        let id = try client.addFile(at: try writeFile(in: dir, "once.mp4", size: 150 * KiB))
        client.start()
        client.start() // already running
        try recorder.succeeded(id)
        try client.cancelFile(fileId: id, keepUpload: false) // succeeded: nothing to cancel
        try client.resumeFile(fileId: id) // succeeded: nothing to resume
        XCTAssertEqual(client.file(fileId: id)?.status, .succeeded)
        XCTAssertEqual(recorder.count("canceled") + recorder.count("failed"), 0)
        XCTAssertEqual(recorder.count("started"), 1, "uploaded once")
    }

    /// pause → stop → start: the native SDK's trap (files stranded) does not exist here; the
    /// same multipart upload continues.
    func testPauseStopAndStartContinueTheUpload() throws {
        let (client, recorder) = try makeClient()
        try sim.throttle(bytesPerSecond: 300 * KiB)
        let id = try client.addFile(at: try writeFile(in: dir, "stop.mp4", size: 900 * KiB))
        client.start()
        try recorder.someProgress()
        client.pause()
        client.stop()
        XCTAssertEqual(client.status(), .stopped)
        try sim.throttle(bytesPerSecond: nil)
        client.start()
        try recorder.succeeded(id)
        XCTAssertEqual(try sim.stat("multipart_uploads_initiated"), 1)
    }

    func testErrorsAreTypedAndCarryWhatTheAppNeeds() throws {
        let (client, _) = try makeClient()
        XCTAssertThrowsError(try client.addFile(at: dir.appendingPathComponent("missing.mp4"))) { error in
            guard case let .FileNotFound(path)? = error as? VodUploadError else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("missing.mp4"), path)
        }
        let id = try client.addFile(at: try writeFile(in: dir, "x.mp4", size: 10 * KiB))
        XCTAssertThrowsError(try client.setUploadAuthAndAddress(fileId: id, uploadAuth: "not base64!", uploadAddress: "nope")) { error in
            guard case .Credentials? = error as? VodUploadError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try client.addFile(at: try writeFile(in: dir, "y.mp4", size: 10 * KiB), vodInfo: VodInfo(priority: 300))) { error in
            guard case .InvalidArgument? = error as? VodUploadError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try VodUploadClient(config: ClientConfig(database: nil, partSize: 1))) { error in
            guard case .InvalidArgument? = error as? VodUploadError else { return XCTFail("\(error)") }
        }
        client.shutdown()
        client.shutdown() // idempotent
        XCTAssertThrowsError(try client.addFile(at: try writeFile(in: dir, "late.mp4", size: 10 * KiB))) { error in
            guard case .Closed? = error as? VodUploadError else { return XCTFail("\(error)") }
        }
    }

    /// A listener that throws on every event neither stops the uploads nor the other
    /// subscribers: the library logs it and goes on.
    func testAThrowingListenerNeverStopsTheUploads() throws {
        final class Throwing: UploadEventListener, UploadListener, @unchecked Sendable {
            struct Bug: Error {}
            private let lock = NSLock()
            private(set) var calls = 0
            func onEvent(event: UploadEvent) throws {
                lock.lock()
                calls += 1
                lock.unlock()
                throw Bug()
            }

            func started(file: FileInfo) throws { throw Bug() }
            func progress(fileId: String, uploaded: Int64, total: Int64) throws { throw Bug() }
            func succeeded(file: FileInfo, result: UploadResult) throws { throw Bug() }
            func failed(file: FileInfo, code: String, message: String) throws { throw Bug() }
            func canceled(file: FileInfo, deleted: Bool) throws { throw Bug() }
            func tokenExpired(file: FileInfo) throws { throw Bug() }
            func retry(file: FileInfo, code: String, message: String) throws { throw Bug() }
            func retryResume(file: FileInfo) throws { throw Bug() }
            func waiting(file: FileInfo, reason: WaitingReason) throws { throw Bug() }
            func allDone() throws { throw Bug() }
        }
        let (client, recorder) = try makeClient()
        let throwing = Throwing()
        // Subscribed first, so it throws before the recorder sees each event.
        let subscription = try client.subscribe(listener: throwing)
        try client.setListener(listener: throwing)
        let first = try client.addFile(at: try writeFile(in: dir, "a.mp4", size: 250 * KiB))
        client.start()
        try recorder.succeeded(first)
        XCTAssertGreaterThan(throwing.calls, 2, "it kept receiving events after throwing")

        let second = try client.addFile(at: try writeFile(in: dir, "b.mp4", size: 150 * KiB))
        try recorder.succeeded(second)
        XCTAssertEqual(client.file(fileId: second)?.status, .succeeded)
        subscription.cancel()
        try client.setListener(listener: nil)
    }

    /// The app is killed mid-upload and opened again on the same database: the queue is
    /// restored and the same multipart upload continues. On Linux the uploading client runs in
    /// a child process (this test binary, `KillChild`) that gets SIGKILL once a part is in the
    /// ledger; elsewhere the client is dropped without `shutdown()`.
    func testKillAndResumeOnTheSameDatabase() throws {
        try sim.throttle(bytesPerSecond: 300 * KiB)
        let file = try writeFile(in: dir, "kill.mp4", size: 900 * KiB)
        let id = try KillChild.uploadUntilKilled(sim: sim, database: database, file: file)
        try sim.throttle(bytesPerSecond: nil)

        let (second, recorder) = try makeClient()
        let restored = try XCTUnwrap(second.file(fileId: id))
        XCTAssertGreaterThan(restored.bytesUploaded, 0)
        XCTAssertNil(second.recoveredDatabase())
        second.start()
        XCTAssertEqual(try recorder.succeeded(id).bytes, Int64(900 * KiB))
        XCTAssertEqual(try sim.stat("multipart_uploads_initiated"), 1)
    }

    /// An `async` CredentialProvider (the app asks its server) renews expired credentials
    /// without a pause and without `tokenExpired`.
    func testAnAsyncCredentialProviderRenewsWithoutAPause() throws {
        final class Provider: CredentialProvider, @unchecked Sendable {
            let sim: Sim
            private let lock = NSLock()
            private var seen: [CredentialReason] = []
            var reasons: [CredentialReason] { lock.lock(); defer { lock.unlock() }; return seen }
            init(sim: Sim) { self.sim = sim }
            private func record(_ reason: CredentialReason) {
                lock.lock()
                seen.append(reason)
                lock.unlock()
            }

            func fetchCredentials(request: CredentialRequest) async throws -> ProvidedCredentials {
                record(request.reason)
                await Task.yield() // a real app awaits its server here
                if let videoId = request.videoId {
                    return .uploadAuth(uploadAuth: try sim.refreshUploadVideo(videoId: videoId).uploadAuth, uploadAddress: nil, videoId: nil)
                }
                let video = try sim.createUploadVideo(fileName: "provided.mp4")
                return .uploadAuth(uploadAuth: video.uploadAuth, uploadAddress: video.uploadAddress, videoId: video.videoId)
            }
        }
        let (client, recorder) = try makeClient(sts: false)
        let provider = Provider(sim: sim)
        try client.setCredentialProvider(provider: provider)
        try sim.throttle(bytesPerSecond: 300 * KiB)
        let id = try client.addFile(at: try writeFile(in: dir, "provided.mp4", size: 900 * KiB))
        client.start()
        try recorder.someProgress()
        try sim.expireTokens()
        try sim.throttle(bytesPerSecond: nil)
        try recorder.succeeded(id)

        XCTAssertEqual(provider.reasons.first, .initial)
        XCTAssertTrue(provider.reasons.contains(.expired), "provider asked for \(provider.reasons)")
        XCTAssertEqual(recorder.count("tokenExpired"), 0)
        XCTAssertEqual(try sim.stat("multipart_uploads_initiated"), 1)
    }
}

/// The app's side of mode 1: answers `started` with its server's CreateUploadVideo, or with
/// RefreshUploadVideo when the file already has a video (after a restart).
final class AppServer: UploadEventListener, @unchecked Sendable {
    private let sim: Sim
    private weak var client: VodUploadClient?
    private let lock = NSLock()
    private var byFile: [String: String] = [:]
    private var creations = 0

    init(sim: Sim, client: VodUploadClient) {
        self.sim = sim
        self.client = client
    }

    var videos: [String: String] { lock.lock(); defer { lock.unlock() }; return byFile }
    var created: Int { lock.lock(); defer { lock.unlock() }; return creations }

    func onEvent(event: UploadEvent) throws {
        guard case let .started(file) = event, let client else { return }
        let video: Sim.VideoCredentials
        if let existing = file.videoId {
            video = try sim.refreshUploadVideo(videoId: existing)
        } else {
            video = try sim.createUploadVideo(fileName: file.url.lastPathComponent)
            lock.lock()
            creations += 1
            lock.unlock()
        }
        lock.lock()
        byFile[file.id] = video.videoId
        lock.unlock()
        try client.setUploadAuthAndAddress(fileId: file.id, uploadAuth: video.uploadAuth, uploadAddress: video.uploadAddress, videoId: video.videoId)
    }
}
