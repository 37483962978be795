import PhotosUI
import SwiftUI

/// One screen: pick a video, watch it upload, pause and resume.
struct ContentView: View {
    @EnvironmentObject private var model: UploadModel
    @State private var pick: PhotosPickerItem?

    var body: some View {
        VStack(alignment: .leading, spacing: 16) {
            Text(model.screen.fileName ?? "Pick a video to upload it to VOD.")
                .font(.headline)
            ProgressView(value: model.screen.progress)
            Text(model.screen.message ?? "\(model.screen.percent)%")
                .font(.subheadline)
                .foregroundStyle(.secondary)
            HStack {
                PhotosPicker("Pick a video", selection: $pick, matching: .videos)
                    .disabled(!model.screen.canPick)
                Spacer()
                Button("Pause") { model.pause() }.disabled(!model.screen.canPause)
                Button("Resume") { model.resume() }.disabled(!model.screen.canResume)
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
