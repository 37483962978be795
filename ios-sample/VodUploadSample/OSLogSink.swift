import os
import VodUpload

/// The library's log records in the unified log (Console.app, subsystem dev.vodupload).
final class OSLogSink: LogSink, @unchecked Sendable {
    private let logger = Logger(subsystem: "dev.vodupload", category: "vod-upload")

    func log(record: LogRecord) throws {
        let text = "\(record.target): \(record.message)"
        switch record.level {
        case .error: logger.error("\(text, privacy: .public)")
        case .warn: logger.warning("\(text, privacy: .public)")
        case .info: logger.info("\(text, privacy: .public)")
        case .debug, .trace: logger.debug("\(text, privacy: .public)")
        }
    }
}
