import PhotosUI
import SwiftUI
import UIKit
import VodUpload

/// The app-wide upload state: owns the one `VodUploader` (created at launch, kept for the
/// life of the process), follows the network, and keeps uploading briefly in the background.
@MainActor
final class UploadModel: ObservableObject {
    static let shared = UploadModel()

    enum Phase { case idle, uploading, waiting, paused, succeeded, failed }

    @Published private(set) var fileName: String?
    @Published private(set) var progress: Double = 0
    @Published private(set) var message: String?
    @Published private(set) var phase: Phase = .idle

    var canPick: Bool { phase == .idle || phase == .succeeded || phase == .failed }
    var canPause: Bool { phase == .uploading || phase == .waiting }
    var canResume: Bool { phase == .paused }

    private let uploader: VodUploader?
    private let network = NetworkMonitor()
    private var fileId: String?
    private var backgroundTask: UIBackgroundTaskIdentifier = .invalid
    /// Set when the background time ran out and we paused; undone when the app returns.
    private var pausedForBackground = false

    private init() {
        initLogging(level: .info, sink: OSLogSink())
        let info = Bundle.main.infoDictionary ?? [:]
        let endpoint = info["VodEndpoint"] as? String
        do {
            let support = try FileManager.default.url(
                for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            let uploader = try VodUploader(config: ClientConfig(
                // Checkpoints: uploads continue where they stopped after the app is killed.
                databasePath: support.appendingPathComponent("vod-upload.db").path,
                region: info["VodRegion"] as? String,
                vodEndpoint: endpoint,
                networkPolicy: .wifiOnly,
                allowHttp: endpoint?.hasPrefix("http://") ?? false
            ))
            // Simulator only: a real app sets a CredentialProvider that asks its server.
            try uploader.client.setStsToken(
                accessKeyId: info["VodAccessKeyId"] as? String ?? "",
                accessKeySecret: info["VodAccessKeySecret"] as? String ?? ""
            )
            self.uploader = uploader
        } catch {
            uploader = nil
            phase = .failed
            message = "Cannot start uploads: \(error)"
            return
        }
        startObserving()
    }

    private func startObserving() {
        guard let uploader else { return }
        let events = uploader.events() // subscribed now, before anything uploads
        Task { @MainActor [weak self] in
            for await event in events {
                self?.apply(event)
            }
        }
        network.start { state in
            try? uploader.client.setNetworkState(state: state)
        }
        // Files left from an earlier run continue by themselves.
        if let pending = uploader.client.listFiles().last(where: { !$0.status.isFinished }) {
            show(pending)
            try? uploader.client.start()
        }
    }

    /// Copies the picked video into app storage and queues it.
    func upload(_ item: PhotosPickerItem) async {
        guard let uploader else { return }
        do {
            guard let movie = try await item.loadTransferable(type: Movie.self) else { return }
            let title = (Self.displayName(movie.url.path) as NSString).deletingPathExtension
            let id = try uploader.client.addFile(path: movie.url.path, vodInfo: VodInfo(title: title))
            fileId = id
            if let file = uploader.client.file(fileId: id) { show(file) }
            if uploader.client.status() == .paused {
                try uploader.client.resume()
            } else {
                try uploader.client.start()
            }
        } catch {
            phase = .failed
            message = "\(error)"
        }
    }

    func pause() {
        try? uploader?.client.pause()
    }

    func resume() {
        try? uploader?.client.resume()
        if phase == .paused { phase = .uploading }
    }

    /// Background: ask iOS for time to finish; when it runs out, pause (checkpoints are kept)
    /// and continue from them when the app comes back.
    func scenePhaseChanged(_ scenePhase: ScenePhase) {
        guard let uploader else { return }
        switch scenePhase {
        case .background:
            guard backgroundTask == .invalid,
                  uploader.client.listFiles().contains(where: { !$0.status.isFinished })
            else { return }
            backgroundTask = UIApplication.shared.beginBackgroundTask(withName: "uploads") { [weak self] in
                Task { @MainActor in self?.backgroundTimeExpired() }
            }
        case .active:
            endBackgroundTask()
            if pausedForBackground {
                pausedForBackground = false
                try? uploader.client.resume()
            }
        default:
            break
        }
    }

    private func backgroundTimeExpired() {
        if uploader?.client.status() == .running {
            try? uploader?.client.pause()
            pausedForBackground = true
        }
        endBackgroundTask()
    }

    private func endBackgroundTask() {
        if backgroundTask != .invalid {
            UIApplication.shared.endBackgroundTask(backgroundTask)
            backgroundTask = .invalid
        }
    }

    private func show(_ file: FileInfo) {
        fileId = file.id
        fileName = Self.displayName(file.path)
        progress = file.bytesTotal == 0 ? 0 : Double(file.bytesUploaded) / Double(file.bytesTotal)
        phase = .uploading
        message = nil
    }

    /// The picked file's name: our copies are named `<UUID>-<original name>` (see Movie).
    private static func displayName(_ path: String) -> String {
        let name = (path as NSString).lastPathComponent
        let uuidLength = 36
        guard name.count > uuidLength + 1, UUID(uuidString: String(name.prefix(uuidLength))) != nil else { return name }
        return String(name.dropFirst(uuidLength + 1))
    }

    private func apply(_ event: UploadEvent) {
        if let id = event.fileId, id != fileId { return }
        switch event {
        case .started:
            phase = .uploading
        case let .progress(_, uploaded, total):
            progress = max(progress, total == 0 ? 1 : Double(uploaded) / Double(total))
            if phase == .waiting {
                phase = .uploading
                message = nil
            }
        case let .succeeded(file, result):
            progress = 1
            phase = .succeeded
            message = result.videoId.map { "Uploaded: video \($0)" }
            try? FileManager.default.removeItem(atPath: file.path) // our copy
            if backgroundTask != .invalid, uploader?.client.listFiles().allSatisfy({ $0.status.isFinished }) == true {
                endBackgroundTask()
            }
        case let .failed(_, code, text):
            phase = .failed
            message = "\(code): \(text)"
        case .tokenExpired:
            phase = .waiting
            message = "Waiting for new upload credentials"
        case let .retry(_, code, _):
            message = "Retrying after \(code)"
        case .retryResume:
            message = nil
        case let .waiting(_, reason):
            switch reason {
            case .paused:
                phase = .paused
                message = nil
            case .network:
                phase = .waiting
                message = "Waiting for Wi-Fi"
            case .credentials:
                phase = .waiting
                message = "Waiting for upload credentials"
            case .backoff:
                phase = .waiting
                message = "Network trouble, retrying shortly"
            case .queue:
                phase = .waiting
                message = "Waiting for other uploads"
            }
        case .allDone:
            break
        }
    }
}
