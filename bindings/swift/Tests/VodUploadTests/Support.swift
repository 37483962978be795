import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking // URLSession and URLRequest on Linux
#endif
import VodUpload
import XCTest

/// How long a test waits for an event: generous, the 2-core CI machine may be busy.
let waitTimeout: TimeInterval = 60
let KiB = 1024

/// A vod-sim process ($VOD_UPLOAD_SIM) on a free loopback port, with its admin API and the app
/// server's side of mode 1 (VOD and STS calls signed with the account key). Without the
/// variable the test is skipped (test-linux.sh sets it and fails on skipped tests).
final class Sim: @unchecked Sendable {
    private let process = Process()
    let vodEndpoint: URL
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
        let info = (try? JSONSerialization.jsonObject(with: Data(first))) as? [String: String] ?? [:]
        guard let vod = info["vod_endpoint"].flatMap(URL.init(string:)), let region = info["region"],
              let ak = info["access_key_id"], let sk = info["access_key_secret"]
        else {
            process.terminate()
            throw SimError("vod-sim printed no endpoints: \(String(decoding: first, as: UTF8.self))")
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

    struct SimError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// A blocking request: listeners call the "app server" from the library's event thread.
    private func request(_ method: String, _ url: URL, body: String? = nil) throws -> Any {
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "content-type")
        request.httpBody = body?.data(using: .utf8)
        final class Box: @unchecked Sendable {
            var result: Result<(Data, Int), Error> = .failure(SimError("no answer"))
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                box.result = .failure(error)
            } else {
                box.result = .success((data ?? Data(), (response as? HTTPURLResponse)?.statusCode ?? 0))
            }
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + 15) == .success else { throw SimError("\(method) \(url.path): no answer") }
        let (data, status) = try box.result.get()
        // Never the query in a message: it holds the signature (and XCTest on Linux mangles "%").
        guard status == 200 else { throw SimError("\(method) \(url.path): \(status) \(String(decoding: data, as: UTF8.self))") }
        return data.isEmpty ? [String: Any]() : try JSONSerialization.jsonObject(with: data)
    }

    private func admin(_ method: String, _ path: String, body: String? = nil) throws -> [String: Any] {
        try request(method, vodEndpoint.appendingPathComponent(path), body: body) as? [String: Any] ?? [:]
    }

    /// A top-level counter of `GET /_sim/stats`.
    func stat(_ name: String) throws -> Int {
        guard let value = try admin("GET", "/_sim/stats")[name] as? NSNumber else { throw SimError("no stat \(name)") }
        return value.intValue
    }

    /// Makes every issued STS token (UploadAuth credentials and AssumeRole's) expire now.
    @discardableResult
    func expireTokens() throws -> Int {
        (try admin("POST", "/_sim/expire-tokens")["expired"] as? NSNumber)?.intValue ?? 0
    }

    /// Replaces the fault rules with `rulesJSON` (a JSON array, see vod-sim's faults.rs).
    func faults(_ rulesJSON: String) throws {
        _ = try admin("POST", "/_sim/faults", body: "{\"rules\":\(rulesJSON)}")
    }

    /// Limits request bodies to `bytesPerSecond` (nil: unlimited).
    func throttle(bytesPerSecond: Int?) throws {
        _ = try admin("POST", "/_sim/throttle", body: "{\"bandwidth\":\(bytesPerSecond.map(String.init) ?? "null"),\"latency_ms\":0}")
    }

    /// One entry of vod-sim's request log (secrets redacted, see vod-sim's requests.rs).
    struct RecordedRequest {
        let op: String
        let method: String
        let host: String
        let path: String
        /// RPC: every parameter (query and form). OSS: the query.
        let params: [String: String]
        /// Request headers, names lower-case.
        let headers: [String: String]
    }

    /// The requests vod-sim recorded (`GET /_sim/requests`), of operation `op` if given.
    func requests(_ op: String? = nil) throws -> [RecordedRequest] {
        guard let list = try request("GET", vodEndpoint.appendingPathComponent("/_sim/requests")) as? [[String: Any]]
        else { throw SimError("GET /_sim/requests: not a list") }
        return list.map { r in
            RecordedRequest(
                op: r["op"] as? String ?? "", method: r["method"] as? String ?? "", host: r["host"] as? String ?? "",
                path: r["path"] as? String ?? "", params: r["params"] as? [String: String] ?? [:],
                headers: r["headers"] as? [String: String] ?? [:]
            )
        }.filter { op == nil || $0.op == op }
    }

    /// A VOD (or STS) action signed with the account key, as an app server calls it
    /// (HMAC-SHA1 RPC signature, protocol.md §6.3).
    func rpc(_ action: String, version: String = "2017-03-21", _ params: [String: String]) throws -> [String: Any] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var query: [String: String] = [
            "Action": action, "Version": version, "Format": "JSON", "AccessKeyId": accessKeyId,
            "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": UUID().uuidString,
            "Timestamp": formatter.string(from: Date()), "RegionId": region,
        ]
        query.merge(params) { _, new in new }
        let canonical = query.sorted { $0.key < $1.key }.map { "\(percent($0.key))=\(percent($0.value))" }.joined(separator: "&")
        let signature = Data(hmacSHA1(key: Array("\(accessKeySecret)&".utf8), message: Array("GET&%2F&\(percent(canonical))".utf8)))
            .base64EncodedString()
        let url = URL(string: "\(vodEndpoint.absoluteString)/?\(canonical)&Signature=\(percent(signature))")!
        return try request("GET", url) as? [String: Any] ?? [:]
    }

    struct VideoCredentials {
        let videoId: String
        let uploadAuth: String
        let uploadAddress: String
    }

    func createUploadVideo(fileName: String) throws -> VideoCredentials {
        let r = try rpc("CreateUploadVideo", ["Title": "test", "FileName": fileName])
        guard let id = r["VideoId"] as? String, let auth = r["UploadAuth"] as? String, let address = r["UploadAddress"] as? String
        else { throw SimError("CreateUploadVideo: \(r)") }
        return VideoCredentials(videoId: id, uploadAuth: auth, uploadAddress: address)
    }

    /// RefreshUploadVideo: a new UploadAuth (and the video's UploadAddress) for `videoId`.
    func refreshUploadVideo(videoId: String) throws -> VideoCredentials {
        let r = try rpc("RefreshUploadVideo", ["VideoId": videoId])
        guard let auth = r["UploadAuth"] as? String, let address = r["UploadAddress"] as? String
        else { throw SimError("RefreshUploadVideo: \(r)") }
        return VideoCredentials(videoId: videoId, uploadAuth: auth, uploadAddress: address)
    }

    struct StsToken {
        let accessKeyId: String
        let accessKeySecret: String
        let securityToken: String
    }

    /// AssumeRole on the simulator's STS: what an app server hands a phone in mode 2.
    func assumeRole() throws -> StsToken {
        let r = try rpc("AssumeRole", version: "2015-04-01", [
            "RoleArn": "acs:ram::1000000000000000:role/vod-upload", "RoleSessionName": "swift-tests",
        ])
        guard let c = r["Credentials"] as? [String: Any], let ak = c["AccessKeyId"] as? String,
              let sk = c["AccessKeySecret"] as? String, let token = c["SecurityToken"] as? String
        else { throw SimError("AssumeRole: \(r)") }
        return StsToken(accessKeyId: ak, accessKeySecret: sk, securityToken: token)
    }

    private func percent(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")) ?? s
    }
}

/// HMAC-SHA1 (RFC 2104). Foundation has no HMAC on Linux, and the RPC signature needs one.
func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
    var key = key.count > 64 ? sha1(key) : key
    key += [UInt8](repeating: 0, count: 64 - key.count)
    return sha1(key.map { $0 ^ 0x5C } + sha1(key.map { $0 ^ 0x36 } + message))
}

/// SHA-1 (FIPS 180-4), for `hmacSHA1` only.
func sha1(_ message: [UInt8]) -> [UInt8] {
    var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
    var data = message + [0x80]
    data += [UInt8](repeating: 0, count: (56 - data.count % 64 + 64) % 64)
    let bits = UInt64(message.count) * 8 // (Swift's shifts bind tighter than `*`)
    data += (0..<8).reversed().map { UInt8(truncatingIfNeeded: bits >> (UInt64($0) * 8)) }
    func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { x << n | x >> (32 - n) }
    for chunk in stride(from: 0, to: data.count, by: 64) {
        var w = (0..<16).map { i in
            (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(data[chunk + i * 4 + $1]) }
        }
        for i in 16..<80 { w.append(rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1)) }
        var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
        for i in 0..<80 {
            let (f, k): (UInt32, UInt32)
            switch i {
            case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
            case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
            case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
            default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
            }
            let t = rotl(a, 5) &+ f &+ e &+ k &+ w[i]
            (e, d, c, b, a) = (d, c, rotl(b, 30), a, t)
        }
        h = [h[0] &+ a, h[1] &+ b, h[2] &+ c, h[3] &+ d, h[4] &+ e]
    }
    return h.flatMap { v in (0..<4).reversed().map { UInt8(truncatingIfNeeded: v >> (UInt32($0) * 8)) } }
}

/// A file of `size` deterministic bytes in `dir`.
func writeFile(in dir: URL, _ name: String, size: Int) throws -> URL {
    let url = dir.appendingPathComponent(name)
    try Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ name.count) }).write(to: url)
    return url
}

/// Small parts and fast retries against `sim`, through the Swift-typed initializer.
func testConfig(_ sim: Sim, database: URL?) -> ClientConfig {
    ClientConfig(
        database: database,
        partSize: 100 * KiB,
        parallelParts: 2,
        retryBaseInterval: 0.01,
        retryMaxInterval: 0.1,
        region: sim.region,
        vodEndpoint: sim.vodEndpoint,
        allowHTTP: true,
        progressInterval: 0.01
    )
}

/// Records every event it receives, noting whether any came on the main thread; tests wait on conditions
/// with a deadline, never sleep.
final class Recorder: UploadEventListener, @unchecked Sendable {
    private let condition = NSCondition()
    private var events: [UploadEvent] = []
    /// Whether any event arrived on the main thread (where a sync XCTest runs).
    private(set) var sawMainThread = false

    func onEvent(event: UploadEvent) throws {
        condition.lock()
        events.append(event)
        sawMainThread = sawMainThread || Thread.isMainThread
        condition.broadcast()
        condition.unlock()
    }

    var snapshot: [UploadEvent] {
        condition.lock()
        defer { condition.unlock() }
        return events
    }

    /// Waits until `match` returns a value for the events so far (from index `after` on).
    @discardableResult
    func wait<T>(for what: String, after: Int = 0, timeout: TimeInterval = waitTimeout, _ match: ([UploadEvent]) -> T?) throws -> T {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let found = match(Array(events.dropFirst(after))) { return found }
            if !condition.wait(until: deadline) {
                throw Sim.SimError("timed out waiting for \(what); events: \(events.map(\.kind))")
            }
        }
    }

    /// The first event (from index `after` on) that `match` maps to a value.
    @discardableResult
    func first<T>(_ what: String, after: Int = 0, timeout: TimeInterval = waitTimeout, _ match: @escaping (UploadEvent) -> T?) throws -> T {
        try wait(for: what, after: after, timeout: timeout) { $0.lazy.compactMap(match).first }
    }

    @discardableResult
    func succeeded(_ fileId: String) throws -> UploadResult {
        try first("succeeded \(fileId)") { if case let .succeeded(file, result) = $0, file.id == fileId { return result }; return nil }
    }

    /// The first progress event with bytes confirmed.
    func someProgress(after: Int = 0) throws {
        try first("progress", after: after) { if case let .progress(_, uploaded, _) = $0, uploaded > 0 { return true }; return nil }
    }

    func count(_ kind: String) -> Int {
        snapshot.filter { $0.kind == kind }.count
    }
}

extension UploadEvent {
    /// The case name, for messages and counts.
    var kind: String {
        switch self {
        case .started: return "started"
        case .progress: return "progress"
        case .succeeded: return "succeeded"
        case .failed: return "failed"
        case .canceled: return "canceled"
        case .tokenExpired: return "tokenExpired"
        case .retry: return "retry"
        case .retryResume: return "retryResume"
        case .waiting: return "waiting"
        case .allDone: return "allDone"
        }
    }
}
