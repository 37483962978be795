import Foundation
import VodUpload

/// Picked files are copied into the app's own storage: the library reads a path for the whole
/// upload (and again after a restart), while a picker's file goes away when the import ends.
/// Copies are named `<UUID>-<original name>`, so two picks of `IMG_0001.MOV` never collide
/// and the screen can still show the original name.
public enum ImportedFile {
    /// Where to copy `original` inside `directory`.
    public static func destination(for original: URL, in directory: URL, id: UUID = UUID()) -> URL {
        directory.appendingPathComponent("\(id.uuidString)-\(original.lastPathComponent)")
    }

    /// The name the user picked: the copy's name without its UUID prefix (any other file's
    /// name as it is).
    public static func displayName(of file: URL) -> String {
        let name = file.lastPathComponent
        let uuidLength = 36
        guard name.count > uuidLength + 1,
              UUID(uuidString: String(name.prefix(uuidLength))) != nil,
              name.dropFirst(uuidLength).first == "-"
        else { return name }
        return String(name.dropFirst(uuidLength + 1))
    }

    /// A title for VOD: the display name without its extension.
    public static func title(of file: URL) -> String {
        (displayName(of: file) as NSString).deletingPathExtension
    }
}

/// The background rules of the sample: with files pending it asks iOS for background time;
/// when that runs out it pauses (the checkpoints stay) and resumes once the app is active
/// again, but only what it paused itself, never a pause the user chose.
public struct BackgroundUploads: Equatable, Sendable {
    public private(set) var pausedForBackground = false

    public init() {}

    /// Whether there is work worth asking iOS for background time.
    public static func needsTime(for files: [FileInfo]) -> Bool {
        files.contains { !$0.status.isFinished }
    }

    /// The background time ran out: whether to pause the client now.
    public mutating func timeExpired(clientStatus: ClientStatus) -> Bool {
        guard clientStatus == .running else { return false }
        pausedForBackground = true
        return true
    }

    /// The app is active again: whether to resume the client.
    public mutating func becameActive() -> Bool {
        defer { pausedForBackground = false }
        return pausedForBackground
    }
}

/// Where the sample uploads, from its Info.plist (`VodEndpoint`, `VodRegion`,
/// `VodAccessKeyId`, `VodAccessKeySecret`). A real app ships no key: it sets a
/// `CredentialProvider` that asks its server.
public struct SampleSettings: Equatable, Sendable, CustomStringConvertible {
    public let endpoint: String?
    public let region: String?
    public let accessKeyId: String
    public let accessKeySecret: String

    public init(info: [String: Any]) {
        endpoint = (info["VodEndpoint"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        region = (info["VodRegion"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        accessKeyId = info["VodAccessKeyId"] as? String ?? ""
        accessKeySecret = info["VodAccessKeySecret"] as? String ?? ""
    }

    /// Plain HTTP is allowed only when the endpoint asks for it (the local simulator).
    public var allowsHTTP: Bool { endpoint?.hasPrefix("http://") ?? false }

    /// The client's configuration, with its checkpoint database at `database`.
    public func clientConfig(database: URL) -> ClientConfig {
        ClientConfig(
            databasePath: database.path,
            region: region,
            vodEndpoint: endpoint,
            networkPolicy: .wifiOnly,
            allowHttp: allowsHTTP
        )
    }

    /// Never prints the secret (a settings value ends up in logs and crash reports).
    public var description: String {
        "SampleSettings(endpoint: \(endpoint ?? "default"), region: \(region ?? "default"), accessKeyId: \(accessKeyId), accessKeySecret: ***)"
    }
}
