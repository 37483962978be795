// The vod-upload Android sample: a customer app that uploads a picked video with progress,
// pause/resume, network awareness and a foreground service. See README.md.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "vod-upload-sample"

// The library built from source (Kotlin bindings + Rust for every ABI), as a composite build:
// the app's `dev.vodupload:vod-upload-android` dependency resolves to it. An app using the
// published AAR drops this line.
includeBuild("../bindings/kotlin/android")

include(":app")
