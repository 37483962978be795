import PhotosUI
import SwiftUI

/// One screen: pick a video, watch it upload, pause and resume.
struct ContentView: View {
    @EnvironmentObject private var model: UploadModel
    @State private var pick: PhotosPickerItem?

    var body: some View {
        VStack(alignment: .leading, spacing: 16) {
            Text(model.fileName ?? "Pick a video to upload it to VOD.")
                .font(.headline)
            ProgressView(value: model.progress)
            Text(model.message ?? "\(Int(model.progress * 100))%")
                .font(.subheadline)
                .foregroundStyle(.secondary)
            HStack {
                PhotosPicker("Pick a video", selection: $pick, matching: .videos)
                    .disabled(!model.canPick)
                Spacer()
                Button("Pause") { model.pause() }.disabled(!model.canPause)
                Button("Resume") { model.resume() }.disabled(!model.canResume)
            }
            Spacer()
        }
        .padding(24)
        .onChange(of: pick) { item in
            guard let item else { return }
            pick = nil
            Task { await model.upload(item) }
        }
    }
}
