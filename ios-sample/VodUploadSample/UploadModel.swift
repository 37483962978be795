import PhotosUI
import SwiftUI
import UIKit
import VodUpload
import VodUploadSampleKit

/// The app-wide upload state: owns the one `VodUploader` (created at launch, kept for the
/// life of the process), follows the network, and keeps uploading briefly in the background.
/// The decisions live in VodUploadSampleKit (tested on every platform); this class only wires
/// them to SwiftUI, UIKit and the photo picker.
@MainActor
final class UploadModel: ObservableObject {
    static let shared = UploadModel()

    @Published private(set) var screen = UploadScreenState()

    private let uploader: VodUploader?
    /// NWPathMonitor → `setNetworkState`: a switch to cellular pauses at once (Wi-Fi only).
    private let network = NetworkMonitor()
    private var background = BackgroundUploads()
    private var backgroundTask: UIBackgroundTaskIdentifier = .invalid

    private init() {
        initLogging(level: .info, sink: OSLogSink())
        let settings = SampleSettings(info: Bundle.main.infoDictionary ?? [:])
        do {
            let support = try FileManager.default.url(
                for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            // Checkpoints: uploads continue where they stopped after the app is killed.
            let uploader = try VodUploader(config: settings.clientConfig(database: support.appendingPathComponent("vod-upload.db")))
            // Simulator only: a real app sets a CredentialProvider that asks its server.
            try uploader.client.setStsToken(accessKeyId: settings.accessKeyId, accessKeySecret: settings.accessKeySecret)
            self.uploader = uploader
        } catch {
            uploader = nil
            screen.show(error: "Cannot start uploads: \(error)")
            return
        }
        startObserving()
    }

    private func startObserving() {
        guard let uploader else { return }
        let events = uploader.events() // subscribed now, before anything uploads
        Task { @MainActor [weak self] in
            for await event in events {
                self?.handle(event)
            }
        }
        network.start(reportingTo: uploader.client)
        // Files left from an earlier run continue by themselves.
        if let pending = uploader.client.listFiles().last(where: { !$0.status.isFinished }) {
            screen = UploadScreenState(restoring: pending)
            uploader.client.start()
        }
    }

    /// Copies the picked video into app storage and queues it.
    func upload(_ item: PhotosPickerItem) async {
        guard let uploader else { return }
        do {
            guard let movie = try await item.loadTransferable(type: Movie.self) else { return }
            let id = try uploader.client.addFile(at: movie.url, vodInfo: VodInfo(title: ImportedFile.title(of: movie.url)))
            screen.picked(fileId: id, fileName: ImportedFile.displayName(of: movie.url))
            uploader.client.start() // also continues a paused queue
        } catch {
            screen.show(error: "\(error)")
        }
    }

    func pause() {
        uploader?.client.pause()
    }

    func resume() {
        uploader?.client.resume()
        screen.resumed()
    }

    /// Background: ask iOS for time to finish; when it runs out, pause (checkpoints are kept)
    /// and continue from them when the app comes back.
    func scenePhaseChanged(_ scenePhase: ScenePhase) {
        guard let uploader else { return }
        switch scenePhase {
        case .background:
            guard backgroundTask == .invalid, BackgroundUploads.needsTime(for: uploader.client.listFiles()) else { return }
            backgroundTask = UIApplication.shared.beginBackgroundTask(withName: "uploads") { [weak self] in
                // iOS calls this on the main thread and ends the app unless the task is ended
                // before it returns, so no hop through a Task here.
                MainActor.assumeIsolated { self?.backgroundTimeExpired() }
            }
        case .active:
            endBackgroundTask()
            if background.becameActive() {
                uploader.client.resume()
            }
        default:
            break
        }
    }

    private func backgroundTimeExpired() {
        if let uploader, background.timeExpired(clientStatus: uploader.client.status()) {
            uploader.client.pause()
        }
        endBackgroundTask()
    }

    private func endBackgroundTask() {
        if backgroundTask != .invalid {
            UIApplication.shared.endBackgroundTask(backgroundTask)
            backgroundTask = .invalid
        }
    }

    private func handle(_ event: UploadEvent) {
        screen.apply(event)
        switch event {
        case let .succeeded(file, _) where file.id == screen.fileId:
            try? FileManager.default.removeItem(at: file.url) // our copy
        case .allDone:
            endBackgroundTask() // nothing left to finish in the background
        default:
            break
        }
    }
}
