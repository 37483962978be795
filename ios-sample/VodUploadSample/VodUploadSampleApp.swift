import SwiftUI

@main
struct VodUploadSampleApp: App {
    // App-wide: one upload client for the life of the process, never per screen.
    @StateObject private var model = UploadModel.shared
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup {
            ContentView()
                .environmentObject(model)
        }
        .onChange(of: scenePhase) { phase in
            model.scenePhaseChanged(phase)
        }
    }
}
