import Foundation

// Swift spellings over the generated API: file URLs, TimeInterval, argument labels. They only
// convert and forward; the generated functions stay available as they are.

public extension ClientConfig {
    /// The configuration with Swift types: a file URL for the checkpoint database (`nil`: memory
    /// only) and `TimeInterval`s in seconds where the generated initializer takes milliseconds.
    /// Every other `nil` is the engine's default, documented on the generated fields.
    init(
        database: URL?,
        partSize: Int? = nil,
        parallelParts: Int? = nil,
        maxParallelFiles: Int? = nil,
        retryCount: Int? = nil,
        retryDuration: TimeInterval? = nil,
        retryBaseInterval: TimeInterval? = nil,
        retryMaxInterval: TimeInterval? = nil,
        retryTimeBudget: TimeInterval? = nil,
        connectTimeout: TimeInterval? = nil,
        requestTimeout: TimeInterval? = nil,
        stallTimeout: TimeInterval? = nil,
        region: String? = nil,
        vodEndpoint: URL? = nil,
        signatureVersion: SignatureVersion? = nil,
        networkPolicy: NetworkPolicy? = nil,
        allowHTTP: Bool? = nil,
        extraRootCertificates: [String]? = nil,
        putObjectThreshold: Int? = nil,
        refreshAhead: TimeInterval? = nil,
        progressInterval: TimeInterval? = nil,
        workerThreads: Int? = nil,
        credentialTimeout: TimeInterval? = nil,
        keepSucceeded: TimeInterval? = nil,
        measureMedia: Bool? = nil
    ) {
        self.init(
            databasePath: database?.path,
            partSize: partSize.map(numericCast),
            parallelParts: parallelParts.map(numericCast),
            maxParallelFiles: maxParallelFiles.map(numericCast),
            retryCount: retryCount.map(numericCast),
            retryDurationMs: retryDuration.map(milliseconds),
            retryBaseIntervalMs: retryBaseInterval.map(milliseconds),
            retryMaxIntervalMs: retryMaxInterval.map(milliseconds),
            retryTimeBudgetMs: retryTimeBudget.map(milliseconds),
            connectTimeoutMs: connectTimeout.map(milliseconds),
            requestTimeoutMs: requestTimeout.map(milliseconds),
            stallTimeoutMs: stallTimeout.map(milliseconds),
            region: region,
            vodEndpoint: vodEndpoint?.absoluteString,
            signatureVersion: signatureVersion,
            networkPolicy: networkPolicy,
            allowHttp: allowHTTP,
            extraRootCertificates: extraRootCertificates,
            putObjectThreshold: putObjectThreshold.map(numericCast),
            refreshAheadMs: refreshAhead.map(milliseconds),
            progressIntervalMs: progressInterval.map(milliseconds),
            workerThreads: workerThreads.map(numericCast),
            credentialTimeoutMs: credentialTimeout.map(milliseconds),
            // `.infinity` keeps succeeded files until deleted.
            keepSucceededMs: keepSucceeded.map { $0.isInfinite ? Int64.max : milliseconds($0) },
            measureMedia: measureMedia
        )
    }
}

/// Whole milliseconds, rounded. Negative and NaN intervals become 0 (which the engine rejects
/// where it needs more), huge ones (`.infinity`) about 68 years.
func milliseconds<T: BinaryInteger>(_ interval: TimeInterval) -> T {
    guard interval > 0 else { return 0 }
    return T((min(interval, TimeInterval(Int32.max)) * 1000).rounded())
}

public extension VodUploadClient {
    /// Queues the file at `url` (a file URL the app owns: copy picker files into the app's
    /// container first) and returns its id, stable across restarts.
    @discardableResult
    func addFile(at url: URL, vodInfo: VodInfo = VodInfo(), target: UploadTarget? = nil) throws -> String {
        try addFile(path: url.path, vodInfo: vodInfo, target: target)
    }

    /// Tells the engine about the network (see `NetworkMonitor`). The only failure is a client
    /// that was shut down, which has nothing left to pause or resume: it is ignored.
    func report(networkState: NetworkState) {
        try? setNetworkState(state: networkState)
    }
}

public extension FileInfo {
    /// The queued file.
    var url: URL { URL(fileURLWithPath: path) }

    /// The uploaded fraction, `0...1`.
    var fractionUploaded: Double {
        bytesTotal == 0 ? 0 : min(1, Double(bytesUploaded) / Double(bytesTotal))
    }
}

public extension FileStatus {
    /// Succeeded, failed or canceled: the queue will not pick the file up by itself.
    var isFinished: Bool { self == .succeeded || self == .failed || self == .canceled }
}

/// Empty defaults, so a native-style listener (`setListener`) implements only the callbacks it
/// cares about. (`subscribe` with an `UploadEventListener`, or `VodUploader.events()`, gets
/// every event as one `UploadEvent` instead.)
public extension UploadListener {
    func started(file: FileInfo) throws {}
    func progress(fileId: String, uploaded: Int64, total: Int64) throws {}
    func succeeded(file: FileInfo, result: UploadResult) throws {}
    func failed(file: FileInfo, code: String, message: String) throws {}
    func canceled(file: FileInfo, deleted: Bool) throws {}
    func tokenExpired(file: FileInfo) throws {}
    func retry(file: FileInfo, code: String, message: String) throws {}
    func retryResume(file: FileInfo) throws {}
    func waiting(file: FileInfo, reason: WaitingReason) throws {}
    func allDone() throws {}
}
