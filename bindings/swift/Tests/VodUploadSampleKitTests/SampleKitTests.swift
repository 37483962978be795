import Foundation
import VodUpload
import VodUploadSampleKit
import XCTest

/// The iOS sample's logic, without SwiftUI/UIKit: the screen state reduced from events, the
/// names of imported copies, the background rules and the settings.
final class SampleKitTests: XCTestCase {
    private func file(_ id: String, status: FileStatus = .uploading, uploaded: Int = 0) -> FileInfo {
        FileInfo(
            id: id, path: "/app/uploads/\(id).mp4", target: .video, vodInfo: VodInfo(), status: status,
            waiting: nil, bytesUploaded: numericCast(uploaded), bytesTotal: 100, endpoint: nil, bucket: nil,
            objectKey: nil, videoId: nil, imageUrl: nil, lastError: nil, crc64: nil,
            addedAt: Date(timeIntervalSince1970: 0)
        )
    }

    private let result = UploadResult(
        videoId: "vid-1", imageUrl: nil, endpoint: "http://oss", bucket: "bucket", objectKey: "key", bytes: 100, crc64: "42"
    )

    func testAnUploadGoesThroughWaitingAndPauseToSucceeded() {
        var screen = UploadScreenState()
        XCTAssertTrue(screen.canPick)
        screen.picked(fileId: "a", fileName: "clip.mp4")
        XCTAssertTrue(screen.canPause)
        XCTAssertFalse(screen.canPick)

        screen.apply(.started(file: file("a")))
        screen.apply(.progress(fileId: "a", uploaded: 30, total: 100))
        XCTAssertEqual(screen.percent, 30)
        screen.apply(.waiting(file: file("a"), reason: .network))
        XCTAssertEqual(screen.phase, .waiting)
        XCTAssertEqual(screen.message, "Waiting for Wi-Fi")
        screen.apply(.progress(fileId: "a", uploaded: 20, total: 100))
        XCTAssertEqual(screen.percent, 30, "the bar never goes back")
        XCTAssertEqual(screen.phase, .uploading, "bytes flow again")
        XCTAssertNil(screen.message)

        screen.apply(.waiting(file: file("a"), reason: .paused))
        XCTAssertTrue(screen.canResume)
        XCTAssertFalse(screen.canPause)
        screen.resumed()
        XCTAssertEqual(screen.phase, .uploading)
        screen.apply(.succeeded(file: file("a", status: .succeeded), result: result))
        XCTAssertEqual(screen.phase, .succeeded)
        XCTAssertEqual(screen.percent, 100)
        XCTAssertEqual(screen.videoId, "vid-1")
        XCTAssertTrue(screen.canPick)
    }

    func testEventsOfOtherFilesAndAllDoneLeaveTheScreenAlone() {
        var screen = UploadScreenState()
        screen.picked(fileId: "a", fileName: "clip.mp4")
        XCTAssertEqual(screen.applying(.progress(fileId: "b", uploaded: 50, total: 100)), screen)
        XCTAssertEqual(screen.applying(.failed(file: file("b"), code: "X", message: "y")), screen)
        XCTAssertEqual(screen.applying(.allDone), screen)
    }

    func testFailuresRetriesAndExpiredCredentialsAreShown() {
        var screen = UploadScreenState()
        screen.picked(fileId: "a", fileName: "clip.mp4")
        screen.apply(.retry(file: file("a"), code: "RequestTimeout", message: "slow"))
        XCTAssertEqual(screen.message, "Retrying after RequestTimeout")
        screen.apply(.retryResume(file: file("a")))
        XCTAssertNil(screen.message)
        screen.apply(.tokenExpired(file: file("a")))
        XCTAssertEqual(screen.phase, .waiting)
        XCTAssertEqual(screen.message, "Waiting for new upload credentials")
        screen.apply(.failed(file: file("a"), code: "AccessDenied", message: "no"))
        XCTAssertEqual(screen.phase, .failed)
        XCTAssertEqual(screen.message, "AccessDenied: no")
        XCTAssertTrue(screen.canPick)
        XCTAssertFalse(screen.canResume)
    }

    func testACanceledOrRemovedFileEndsTheUploadOnScreen() {
        var screen = UploadScreenState()
        screen.picked(fileId: "a", fileName: "clip.mp4")
        screen.apply(.canceled(file: file("a", status: .canceled), deleted: false))
        XCTAssertEqual(screen.phase, .canceled)
        XCTAssertEqual(screen.message, "Canceled")
        XCTAssertTrue(screen.canPick)
        screen.picked(fileId: "b", fileName: "other.mp4")
        XCTAssertEqual(screen.applying(.canceled(file: file("b"), deleted: true)).message, "Removed")
    }

    func testARestoredFileShowsItsNameAndProgress() {
        let id = UUID()
        let copy = ImportedFile.destination(for: URL(fileURLWithPath: "/tmp/picker/IMG_0001.MOV"), in: URL(fileURLWithPath: "/app/uploads"), id: id)
        XCTAssertEqual(copy.path, "/app/uploads/\(id.uuidString)-IMG_0001.MOV")
        XCTAssertEqual(ImportedFile.displayName(of: copy), "IMG_0001.MOV")
        XCTAssertEqual(ImportedFile.title(of: copy), "IMG_0001")
        XCTAssertEqual(ImportedFile.displayName(of: URL(fileURLWithPath: "/x/not-a-uuid-prefix.mp4")), "not-a-uuid-prefix.mp4")

        var left = file("a", uploaded: 40)
        left = FileInfo(
            id: left.id, path: copy.path, target: left.target, vodInfo: left.vodInfo, status: .paused, waiting: nil,
            bytesUploaded: left.bytesUploaded, bytesTotal: left.bytesTotal, endpoint: nil, bucket: nil, objectKey: nil,
            videoId: nil, imageUrl: nil, lastError: nil, crc64: nil, addedAt: left.addedAt
        )
        let screen = UploadScreenState(restoring: left)
        XCTAssertEqual(screen.fileName, "IMG_0001.MOV")
        XCTAssertEqual(screen.percent, 40)
        XCTAssertEqual(screen.phase, .uploading)
    }

    func testBackgroundTimeOutPausesOnlyARunningClientAndResumesOnlyWhatItPaused() {
        XCTAssertTrue(BackgroundUploads.needsTime(for: [file("a", status: .succeeded), file("b", status: .waiting)]))
        XCTAssertFalse(BackgroundUploads.needsTime(for: [file("a", status: .succeeded), file("b", status: .canceled)]))

        var background = BackgroundUploads()
        XCTAssertFalse(background.timeExpired(clientStatus: .paused), "the user's pause is left alone")
        XCTAssertFalse(background.becameActive(), "and not undone when the app returns")
        XCTAssertTrue(background.timeExpired(clientStatus: .running))
        XCTAssertTrue(background.becameActive())
        XCTAssertFalse(background.becameActive(), "resumed once")
    }

    func testSettingsComeFromInfoPlistAndNeverPrintTheSecret() {
        let settings = SampleSettings(info: [
            "VodEndpoint": "http://127.0.0.1:8900", "VodRegion": "cn-shanghai",
            "VodAccessKeyId": "demo", "VodAccessKeySecret": "demo-secret",
        ])
        XCTAssertTrue(settings.allowsHTTP)
        let config = settings.clientConfig(database: URL(fileURLWithPath: "/app/vod-upload.db"))
        XCTAssertEqual(config.databasePath, "/app/vod-upload.db")
        XCTAssertEqual(config.vodEndpoint, "http://127.0.0.1:8900")
        XCTAssertEqual(config.allowHttp, true)
        XCTAssertEqual(config.networkPolicy, .wifiOnly)
        XCTAssertFalse("\(settings)".contains("demo-secret"))

        let production = SampleSettings(info: ["VodEndpoint": "https://vod.cn-shanghai.aliyuncs.com", "VodRegion": ""])
        XCTAssertFalse(production.allowsHTTP)
        XCTAssertNil(production.region)
        XCTAssertEqual(SampleSettings(info: [:]).clientConfig(database: URL(fileURLWithPath: "/db")).allowHttp, false)
    }
}
