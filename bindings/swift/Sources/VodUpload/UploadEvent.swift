import Foundation

/// One event of a `VodUploadClient` as a value: the `UploadListener` callbacks, reified so they
/// can travel through an `AsyncStream` and be matched with `switch`.
public enum UploadEvent: Equatable {
    /// A file was picked from the queue (mode 1: answer with `setUploadAuthAndAddress`).
    case started(FileInfo)
    /// Bytes uploaded so far (monotonic, throttled).
    case progress(fileId: String, uploaded: UInt64, total: UInt64)
    case succeeded(FileInfo, UploadResult)
    /// The file failed for good; `code` is the service's or a client code.
    case failed(FileInfo, code: String, message: String)
    /// Call `resumeWithAuth` (mode 1) or `resumeWithToken` (mode 2).
    case tokenExpired(FileInfo)
    case retry(FileInfo, code: String, message: String)
    case retryResume(FileInfo)
    /// The file is started but not sending bytes, and why.
    case waiting(FileInfo, WaitingReason)
    /// Every file in the queue is finished (succeeded, failed or canceled).
    case allDone

    /// The id of the file the event is about; `nil` for `.allDone`.
    public var fileId: String? {
        switch self {
        case let .started(file), let .succeeded(file, _), let .failed(file, _, _), let .tokenExpired(file),
             let .retry(file, _, _), let .retryResume(file), let .waiting(file, _):
            return file.id
        case let .progress(fileId, _, _):
            return fileId
        case .allDone:
            return nil
        }
    }
}

#if compiler(>=6)
extension UploadEvent: Sendable {}
#endif

/// Empty defaults, so a listener implements only the callbacks it cares about.
public extension UploadListener {
    func started(file: FileInfo) throws {}
    func progress(fileId: String, uploaded: UInt64, total: UInt64) throws {}
    func succeeded(file: FileInfo, result: UploadResult) throws {}
    func failed(file: FileInfo, code: String, message: String) throws {}
    func tokenExpired(file: FileInfo) throws {}
    func retry(file: FileInfo, code: String, message: String) throws {}
    func retryResume(file: FileInfo) throws {}
    func waiting(file: FileInfo, reason: WaitingReason) throws {}
    func allDone() throws {}
}
