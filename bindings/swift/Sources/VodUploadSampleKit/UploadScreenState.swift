import Foundation
import VodUpload

/// What the sample's one screen shows for the file it uploads, reduced from the client's
/// events. A value with no UI framework in it: the app's `ObservableObject` publishes it and
/// SwiftUI draws it; the tests drive it with events.
public struct UploadScreenState: Equatable, Sendable {
    public enum Phase: Equatable, Sendable {
        case idle, uploading, waiting, paused, succeeded, failed, canceled
    }

    public private(set) var fileId: String?
    public private(set) var fileName: String?
    /// `0...1`, never going back (a restarted part does not move the bar backwards).
    public private(set) var progress: Double = 0
    public private(set) var phase: Phase = .idle
    /// A line for the user: the error, or why the upload waits.
    public private(set) var message: String?
    public private(set) var videoId: String?

    public init() {}

    /// The screen for a file left unfinished by an earlier run, which continues by itself.
    public init(restoring file: FileInfo) {
        fileId = file.id
        fileName = ImportedFile.displayName(of: file.url)
        progress = file.fractionUploaded
        phase = .uploading
    }

    public var canPick: Bool { [.idle, .succeeded, .failed, .canceled].contains(phase) }
    public var canPause: Bool { phase == .uploading || phase == .waiting }
    public var canResume: Bool { phase == .paused }
    public var percent: Int { min(100, max(0, Int(progress * 100))) }

    /// A new file was queued: the screen follows it from now on.
    public mutating func picked(fileId: String, fileName: String) {
        self = UploadScreenState()
        self.fileId = fileId
        self.fileName = fileName
        phase = .uploading
    }

    /// Something the library did not report, e.g. a file that could not be queued.
    public mutating func show(error message: String) {
        phase = .failed
        self.message = message
    }

    /// The app resumed a paused client (the engine's own `waiting`/`progress` events follow).
    public mutating func resumed() {
        if phase == .paused {
            phase = .uploading
        }
    }

    /// The state after `event`; events of other files leave it unchanged.
    public mutating func apply(_ event: UploadEvent) {
        if let id = event.fileId, id != fileId { return }
        switch event {
        case .started:
            phase = .uploading
            message = nil
        case let .progress(_, uploaded, total):
            progress = max(progress, total == 0 ? 1 : Double(uploaded) / Double(total))
            if phase == .waiting {
                phase = .uploading
                message = nil
            }
        case let .succeeded(_, result):
            progress = 1
            phase = .succeeded
            message = nil
            videoId = result.videoId
        case let .failed(_, code, text):
            phase = .failed
            message = "\(code): \(text)"
        case let .canceled(_, deleted):
            phase = .canceled
            message = deleted ? "Removed" : "Canceled"
        case .tokenExpired:
            phase = .waiting
            message = "Waiting for new upload credentials"
        case let .retry(_, code, _):
            message = "Retrying after \(code)"
        case .retryResume:
            message = nil
        case let .waiting(_, reason):
            if case .paused = reason {
                phase = .paused
                message = nil
            } else {
                phase = .waiting
                message = Self.text(waitingFor: reason)
            }
        case .allDone:
            break
        }
    }

    /// The state after `event`, as a new value.
    public func applying(_ event: UploadEvent) -> UploadScreenState {
        var next = self
        next.apply(event)
        return next
    }

    static func text(waitingFor reason: WaitingReason) -> String {
        switch reason {
        case .paused: return "Paused"
        case .network: return "Waiting for Wi-Fi"
        case .credentials: return "Waiting for upload credentials"
        case .backoff: return "Network trouble, retrying shortly"
        case .tokenExpired: return "Waiting for new upload credentials"
        }
    }
}
