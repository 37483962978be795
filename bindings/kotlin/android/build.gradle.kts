// The vod-upload Android library (AAR): the UniFFI Kotlin bindings generated with the Android
// cleaner, the hand-written layer shared with the JVM build (../src/main/kotlin), and the Rust
// library for every ABI, built by cargo-ndk (bindings/scripts/build-android.sh).
//
//   ./gradlew assembleRelease          -> build/outputs/aar/vod-upload-android-release.aar
//   ./gradlew publishToMavenLocal      -> dev.vodupload:vod-upload-android:0.1.0
//
// CI has no Android SDK: pom.xml beside this file compiles the same sources against
// android-all (API 34) and runs their Robolectric tests. Keep the two in step.
//
// Needs the Android SDK (compileSdk 36) and NDK, rustup and `cargo install cargo-ndk`.
// ANDROID_ABIS="x86_64" limits the native build to one ABI (an emulator) while iterating.

import org.gradle.process.ExecOperations
import javax.inject.Inject

plugins {
    // AGP 9 compiles Kotlin itself (built-in Kotlin): no kotlin-android plugin.
    id("com.android.library") version "9.5.0"
    `maven-publish`
}

group = "dev.vodupload"
version = "0.1.0"

val workspaceRoot: Directory = layout.projectDirectory.dir("../../..")

/** Generates the Kotlin bindings from the host release library (the Android ones are stripped,
 *  and the bindgen reads the metadata from an unstripped library). */
abstract class GenerateUniffiKotlin : DefaultTask() {
    @get:Inject abstract val execOps: ExecOperations
    @get:Inject abstract val fileOps: FileSystemOperations
    @get:Internal abstract val repoRoot: DirectoryProperty
    @get:Internal abstract val config: RegularFileProperty
    @get:OutputDirectory abstract val outputDir: DirectoryProperty

    @TaskAction
    fun generate() {
        val root = repoRoot.get().asFile
        execOps.exec {
            workingDir = root
            commandLine("cargo", "build", "--release", "--quiet", "-p", "vod-upload", "--lib")
        }
        fileOps.delete { delete(outputDir) }
        execOps.exec {
            commandLine(
                "bash", root.resolve("bindings/scripts/generate.sh").path,
                "kotlin", outputDir.get().asFile.path,
                "--config", config.get().asFile.path,
            )
        }
    }
}

/** Builds libvod_upload.so for each ABI into a jniLibs-shaped directory. */
abstract class BuildRustJniLibs : DefaultTask() {
    @get:Inject abstract val execOps: ExecOperations
    @get:Internal abstract val repoRoot: DirectoryProperty
    @get:OutputDirectory abstract val outputDir: DirectoryProperty

    @TaskAction
    fun build() {
        execOps.exec {
            commandLine(
                "bash", repoRoot.get().asFile.resolve("bindings/scripts/build-android.sh").path,
                outputDir.get().asFile.path,
            )
        }
    }
}

val generateUniffiKotlin = tasks.register<GenerateUniffiKotlin>("generateUniffiKotlin") {
    repoRoot.set(workspaceRoot)
    config.set(layout.projectDirectory.file("uniffi-android.toml"))
    outputDir.set(layout.buildDirectory.dir("generated/uniffi"))
    // Cargo and the bindgen decide for themselves what is stale; their no-op runs are cheap.
    doNotTrackState("cargo tracks the Rust inputs")
}

val buildRustJniLibs = tasks.register<BuildRustJniLibs>("buildRustJniLibs") {
    repoRoot.set(workspaceRoot)
    outputDir.set(layout.buildDirectory.dir("rustJniLibs"))
    doNotTrackState("cargo tracks the Rust inputs")
}

android {
    namespace = "dev.vodupload"
    compileSdk = 36

    defaultConfig {
        // 26: java.time (Instant) without desugaring, and the sample's minSdk.
        minSdk = 26
        // Keep JNA and the generated bindings through the app's R8 run.
        consumerProguardFiles("consumer-rules.pro")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    // The Robolectric tests of src/test (CI runs them through pom.xml; the same tests under
    // `./gradlew testDebugUnitTest` need `cargo build --release` for the host library and
    // vod-sim first). Not run by CI: keep in step with pom.xml by hand.
    testOptions {
        unitTests.all { test ->
            val release = workspaceRoot.dir("target/release").asFile
            val hostLib = if (System.getProperty("os.name").startsWith("Mac")) "libvod_upload.dylib" else "libvod_upload.so"
            test.systemProperty("uniffi.component.vod_upload.libraryOverride", release.resolve(hostLib).path)
            test.systemProperty("vodupload.sim", release.resolve("vod-sim").path)
            test.jvmArgs("--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED")
        }
    }
    sourceSets {
        getByName("test") {
            kotlin.srcDir("../src/testFixtures/kotlin")
        }
    }

    publishing {
        singleVariant("release") {
            withSourcesJar()
        }
    }
}

androidComponents {
    onVariants { variant ->
        // The hand-written Flow/suspend layer is the JVM build's, compiled here unchanged;
        // src/main/kotlin (AndroidNetworkMonitor, VodUploadAndroid) is this module's own.
        variant.sources.kotlin?.addStaticSourceDirectory("../src/main/kotlin")
        variant.sources.kotlin?.addGeneratedSourceDirectory(generateUniffiKotlin, GenerateUniffiKotlin::outputDir)
        variant.sources.jniLibs?.addGeneratedSourceDirectory(buildRustJniLibs, BuildRustJniLibs::outputDir)
    }
}

dependencies {
    // `api`: JNA types (Pointer, Structure) appear in the generated public classes, so apps
    // compiling against the bindings need them on their compile classpath. The @aar carries
    // libjnidispatch.so for every ABI.
    api("net.java.dev.jna:jna:5.19.1@aar")
    // The event Flow and the suspend functions are part of the public API.
    api("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.11.0")
    // @RequiresApi in the Android cleaner of the generated bindings (android = true).
    implementation("androidx.annotation:annotation:1.9.1")

    testImplementation("org.robolectric:robolectric:4.14.1")
    testImplementation("junit:junit:4.13.2")
    testImplementation("androidx.test:monitor:1.7.2")
    // The desktop jar too: its libjnidispatch for the host loads the host library in tests.
    testImplementation("net.java.dev.jna:jna:5.19.1")
}

publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = "dev.vodupload"
            artifactId = "vod-upload-android"
            version = project.version.toString()
            afterEvaluate {
                from(components["release"])
            }
        }
    }
}
