import CoreTransferable
import UniformTypeIdentifiers
import VodUploadSampleKit

/// A picked video, copied into the app's own storage: the library needs a file that stays
/// readable for the whole upload (the picker's file goes away when the import ends).
struct Movie: Transferable {
    let url: URL

    static var transferRepresentation: some TransferRepresentation {
        FileRepresentation(contentType: .movie) { movie in
            SentTransferredFile(movie.url)
        } importing: { received in
            let dir = try FileManager.default
                .url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
                .appendingPathComponent("uploads", isDirectory: true)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let copy = ImportedFile.destination(for: received.file, in: dir)
            try FileManager.default.copyItem(at: received.file, to: copy)
            return Movie(url: copy)
        }
    }
}
