// The Android library (AAR) of the vod-upload Kotlin bindings. Open this directory in Android
// Studio, or: ./gradlew assembleRelease (see ../../README.md). The JVM build is ../pom.xml.
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

rootProject.name = "vod-upload-android"
