import Foundation
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// A file URL read in place, for `addUri`: a document-picker URL outside the app's container
/// (security-scoped on iOS, accessed for as long as the source lives) or any file the app can
/// read, without copying it first. Reads are positional (`pread`), so the engine's parallel
/// parts need no lock; memory stays bounded by the engine's 256 KiB chunks.
public final class FileURLSource: ByteSource, @unchecked Sendable {
    // @unchecked: the descriptor and the URL never change after init; pread is thread-safe.
    public let url: URL
    private let descriptor: Int32
    private let scoped: Bool

    public init(url: URL) throws {
        self.url = url
        #if canImport(Darwin)
        scoped = url.startAccessingSecurityScopedResource()
        #else
        scoped = false
        #endif
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else {
            let reason = "\(url.path): \(String(cString: strerror(errno)))"
            #if canImport(Darwin)
            if scoped { url.stopAccessingSecurityScopedResource() }
            #endif
            throw errno == ENOENT ? SourceError.NotFound(reason: reason)
                : errno == EACCES || errno == EPERM ? SourceError.PermissionDenied(reason: reason)
                : SourceError.Io(reason: reason)
        }
        descriptor = fd
    }

    deinit {
        close(descriptor)
        #if canImport(Darwin)
        if scoped { url.stopAccessingSecurityScopedResource() }
        #endif
    }

    public func size() throws -> Int64 {
        try Int64(fileStatus().st_size)
    }

    /// Size and modification time: they change when the content does.
    public func version() throws -> String? {
        let s = try fileStatus()
        #if canImport(Darwin)
        let mtime = s.st_mtimespec
        #else
        let mtime = s.st_mtim
        #endif
        return "\(s.st_size):\(mtime.tv_sec).\(mtime.tv_nsec)"
    }

    public func name() -> String? {
        url.lastPathComponent.isEmpty ? nil : url.lastPathComponent
    }

    public func readAt(offset: Int64, length: Int32) throws -> Data {
        guard offset >= 0, length >= 0 else { throw SourceError.Io(reason: "negative offset or length") }
        var data = Data(count: Int(length))
        var filled = 0
        try data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
            while filled < buffer.count {
                let n = pread(descriptor, buffer.baseAddress! + filled, buffer.count - filled, off_t(offset) + off_t(filled))
                if n == 0 { break }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SourceError.Io(reason: "\(url.path): \(String(cString: strerror(errno)))")
                }
                filled += n
            }
        }
        return filled == data.count ? data : data.prefix(filled)
    }

    private func fileStatus() throws -> stat {
        var s = stat()
        guard fstat(descriptor, &s) == 0 else {
            throw SourceError.Io(reason: "\(url.path): \(String(cString: strerror(errno)))")
        }
        return s
    }
}

/// Opens the `file://` URIs given to `addUri` as `FileURLSource`s. Install one with
/// `setSourceOpener` before `start` on every launch, so restored files can be read again.
public final class FileURLSourceOpener: SourceOpener {
    public init() {}

    public func openUri(uri: String) throws -> ByteSource {
        guard let url = URL(string: uri), url.isFileURL else {
            throw SourceError.NotFound(reason: "not a file URL: \(uri)")
        }
        return try FileURLSource(url: url)
    }
}

public extension VodUploadClient {
    /// Queues a file URL read in place (no copy); the client needs an opener that takes file
    /// URLs, such as `FileURLSourceOpener`.
    @discardableResult
    func addUri(_ url: URL, vodInfo: VodInfo = VodInfo(), target: UploadTarget? = nil) throws -> String {
        try addUri(uri: url.absoluteString, vodInfo: vodInfo, target: target)
    }
}
