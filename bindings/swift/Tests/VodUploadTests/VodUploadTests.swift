import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking // URLSession and URLRequest on Linux
#endif
import XCTest

@testable import VodUpload

/// The Swift bindings against vod-sim on macOS: `VOD_UPLOAD_SIM=target/release/vod-sim swift
/// test --package-path bindings/swift` (after bindings/swift/build.sh). Without the variable
/// the tests are skipped.
final class VodUploadTests: XCTestCase {
    private var sim: Sim!
    private var dir: URL!
    private var uploader: VodUploader!

    override func setUpWithError() throws {
        sim = try Sim()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        uploader = try VodUploader(config: ClientConfig(
            databasePath: dir.appendingPathComponent("uploads.db").path,
            partSize: 100 * 1024,
            parallelParts: 2,
            retryBaseIntervalMs: 10,
            retryMaxIntervalMs: 100,
            region: sim.region,
            vodEndpoint: sim.vodEndpoint,
            allowHttp: true,
            progressIntervalMs: 10
        ))
        try uploader.client.setStsToken(accessKeyId: sim.accessKeyId, accessKeySecret: sim.accessKeySecret)
    }

    override func tearDownWithError() throws {
        uploader?.shutdown()
        sim?.close()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    private func file(_ name: String, size: Int) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data((0..<size).map { UInt8(truncatingIfNeeded: $0 * 31 + name.count) }).write(to: url)
        return url.path
    }

    func testCoreVersion() {
        XCTAssertTrue(coreVersion().hasPrefix("vod-upload "))
    }

    func testUploadReturnsTheResultAndStreamsSeeEveryEvent() async throws {
        let events = uploader.events()
        let result = try await uploader.upload(path: try file("clip.mp4", size: 450 * 1024), vodInfo: VodInfo(title: "clip"))
        XCTAssertEqual(result.bytes, 450 * 1024)
        XCTAssertNotNil(result.videoId)

        var seen: [UploadEvent] = []
        for await event in events {
            seen.append(event)
            if case .allDone = event { break }
        }
        guard case .started = seen.first else { return XCTFail("first event \(String(describing: seen.first))") }
        let uploaded = seen.compactMap { event -> UInt64? in
            if case let .progress(_, uploaded, _) = event { return uploaded }
            return nil
        }
        XCTAssertEqual(uploaded.last, 450 * 1024)
        XCTAssertEqual(uploaded, uploaded.sorted(), "progress is monotonic")
    }

    func testPauseAndResumeContinueTheSameUpload() async throws {
        try await sim.throttle(bytesPerSecond: 400 * 1024)
        let events = uploader.events()
        let id = try uploader.client.addFile(path: try file("long.mp4", size: 1200 * 1024))
        try uploader.client.start()
        for await event in events {
            if case let .progress(_, uploaded, _) = event, uploaded > 0 { break }
        }
        try uploader.client.pause()
        XCTAssertEqual(uploader.client.status(), .paused)
        XCTAssertEqual(uploader.client.file(fileId: id)?.status, .paused)

        try await sim.throttle(bytesPerSecond: nil)
        try uploader.client.resume()
        await uploader.awaitAllDone()
        XCTAssertEqual(uploader.client.file(fileId: id)?.status, .succeeded)
        let initiated = try await sim.stat("multipart_uploads_initiated")
        XCTAssertEqual(initiated, 1, "resumed, not restarted")
    }

    func testCellularWaitsUnderWifiOnlyAndWifiResumes() async throws {
        try uploader.client.setNetworkPolicy(policy: .wifiOnly)
        try uploader.client.setNetworkState(state: NetworkState(networkType: .cellular, metered: true))
        let events = uploader.events()
        let id = try uploader.client.addFile(path: try file("net.mp4", size: 300 * 1024))
        try uploader.client.start()
        for await event in events {
            if case let .waiting(file, reason) = event, file.id == id {
                XCTAssertEqual(reason, .network)
                break
            }
        }
        try uploader.client.setNetworkState(state: NetworkState(networkType: .wifi))
        await uploader.awaitAllDone()
        XCTAssertEqual(uploader.client.file(fileId: id)?.status, .succeeded)
    }

    func testAThrowingListenerNeverStopsUploads() async throws {
        final class Throwing: UploadListener, @unchecked Sendable {
            let done = DispatchSemaphore(value: 0)
            struct Bug: Error {}
            func progress(fileId: String, uploaded: UInt64, total: UInt64) throws { throw Bug() }
            func succeeded(file: FileInfo, result: UploadResult) throws { throw Bug() }
            func allDone() throws {
                done.signal()
                throw Bug()
            }
        }
        let listener = Throwing()
        try uploader.client.setListener(listener: listener)
        let id = try uploader.client.addFile(path: try file("a.mp4", size: 250 * 1024))
        try uploader.client.start()
        XCTAssertEqual(listener.done.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(uploader.client.file(fileId: id)?.status, .succeeded)
    }

    func testErrorsAreTyped() throws {
        XCTAssertThrowsError(try uploader.client.addFile(path: dir.appendingPathComponent("missing.mp4").path)) { error in
            guard let e = error as? VodUploadError, case .FileNotFound = e else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try uploader.client.pause()) { error in
            guard let e = error as? VodUploadError, case .InvalidArgument = e else { return XCTFail("\(error)") }
        }
        uploader.shutdown()
        XCTAssertThrowsError(try uploader.client.start()) { error in
            guard let e = error as? VodUploadError, case .Closed = e else { return XCTFail("\(error)") }
        }
    }
}

/// A vod-sim process ($VOD_UPLOAD_SIM) on a free loopback port, with its admin API.
final class Sim {
    private let process = Process()
    let vodEndpoint: String
    let region: String
    let accessKeyId: String
    let accessKeySecret: String

    init() throws {
        guard let binary = ProcessInfo.processInfo.environment["VOD_UPLOAD_SIM"] else {
            throw XCTSkip("set VOD_UPLOAD_SIM to target/release/vod-sim")
        }
        process.executableURL = URL(fileURLWithPath: binary)
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first stdout line is the endpoints document.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let first = line.split(separator: UInt8(ascii: "\n")).first ?? Data()
        let info = try JSONSerialization.jsonObject(with: Data(first)) as? [String: String] ?? [:]
        guard let vod = info["vod_endpoint"], let region = info["region"],
              let ak = info["access_key_id"], let sk = info["access_key_secret"]
        else {
            process.terminate()
            throw XCTSkip("vod-sim printed no endpoints")
        }
        vodEndpoint = vod
        self.region = region
        accessKeyId = ak
        accessKeySecret = sk
    }

    func close() {
        process.terminate()
        process.waitUntilExit()
    }

    private func admin(_ method: String, _ path: String, body: String? = nil) async throws -> Data {
        var request = URLRequest(url: URL(string: vodEndpoint + path)!)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "content-type")
        request.httpBody = body?.data(using: .utf8)
        let (data, _) = try await URLSession.shared.data(for: request)
        return data
    }

    func throttle(bytesPerSecond: Int?) async throws {
        _ = try await admin("POST", "/_sim/throttle", body: "{\"bandwidth\":\(bytesPerSecond.map(String.init) ?? "null"),\"latency_ms\":0}")
    }

    func stat(_ name: String) async throws -> Int {
        let stats = try JSONSerialization.jsonObject(with: try await admin("GET", "/_sim/stats")) as? [String: Any]
        return (stats?[name] as? NSNumber)?.intValue ?? -1
    }
}
