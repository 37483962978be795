import Foundation
import VodUpload
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The process that gets killed in `ClientTests.testKillAndResumeOnTheSameDatabase`: the test
/// binary runs itself with only `KillChild/testUploadUntilKilled` selected and the upload's
/// parameters in the environment. Without them (any ordinary run) the test does nothing.
final class KillChild: XCTestCase {
    private static let keys = (endpoint: "VOD_KILL_ENDPOINT", region: "VOD_KILL_REGION", database: "VOD_KILL_DATABASE",
                               file: "VOD_KILL_FILE", ak: "VOD_KILL_AK", sk: "VOD_KILL_SK")

    func testUploadUntilKilled() throws {
        let env = ProcessInfo.processInfo.environment
        guard let endpoint = env[Self.keys.endpoint].flatMap(URL.init(string:)), let region = env[Self.keys.region],
              let database = env[Self.keys.database], let file = env[Self.keys.file],
              let ak = env[Self.keys.ak], let sk = env[Self.keys.sk]
        else { return } // not the child: nothing to do
        let client = try VodUploadClient(config: ClientConfig(
            database: URL(fileURLWithPath: database), partSize: 100 * KiB, parallelParts: 2,
            region: region, vodEndpoint: endpoint, allowHTTP: true, progressInterval: 0.01
        ))
        let recorder = Recorder()
        let subscription = try client.subscribe(listener: recorder)
        try client.setStsToken(accessKeyId: ak, accessKeySecret: sk)
        let id = try client.addFile(at: URL(fileURLWithPath: file))
        client.start()
        try recorder.wait(for: "confirmed bytes") { _ in (client.file(fileId: id)?.bytesUploaded ?? 0) > 0 ? true : nil }
        print("KILL-CHILD-READY \(id)")
        fflush(stdout)
        // The parent kills us now; if it does not, the upload goes on and this returns.
        _ = try? recorder.succeeded(id)
        subscription.cancel()
    }

    /// Uploads `file` in a child process until a part is confirmed, kills it (SIGKILL) and
    /// returns the file's id. Where the test binary cannot run itself, a client in this
    /// process is dropped without `shutdown()` instead.
    static func uploadUntilKilled(sim: Sim, database: URL, file: URL) throws -> String {
        #if os(Linux)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["VodUploadTests.KillChild/testUploadUntilKilled"]
        var env = ProcessInfo.processInfo.environment
        env[keys.endpoint] = sim.vodEndpoint.absoluteString
        env[keys.region] = sim.region
        env[keys.database] = database.path
        env[keys.file] = file.path
        env[keys.ak] = sim.accessKeyId
        env[keys.sk] = sim.accessKeySecret
        child.environment = env
        let out = Pipe()
        child.standardOutput = out
        child.standardError = FileHandle.nullDevice
        try child.run()
        defer {
            if child.isRunning { kill(child.processIdentifier, SIGKILL) }
            child.waitUntilExit()
        }
        // Read until the ready line; availableData returns empty at EOF (the child exited).
        var text = ""
        while true {
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("KILL-CHILD-READY ") }) {
                kill(child.processIdentifier, SIGKILL)
                child.waitUntilExit()
                XCTAssertEqual(child.terminationReason, .uncaughtSignal, "killed, not exited")
                return String(line.dropFirst("KILL-CHILD-READY ".count))
            }
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty {
                throw Sim.SimError("the child exited before a part was confirmed: \(text)")
            }
            text += String(decoding: chunk, as: UTF8.self)
        }
        #else
        var client: VodUploadClient? = try VodUploadClient(config: testConfig(sim, database: database))
        let recorder = Recorder()
        var subscription: EventSubscription? = try client!.subscribe(listener: recorder)
        try client!.setStsToken(accessKeyId: sim.accessKeyId, accessKeySecret: sim.accessKeySecret)
        let id = try client!.addFile(at: file)
        client!.start()
        try recorder.wait(for: "confirmed bytes") { _ in (client?.file(fileId: id)?.bytesUploaded ?? 0) > 0 ? true : nil }
        subscription = nil
        client = nil
        _ = (subscription, client)
        return id
        #endif
    }
}
