// The sample app. Its Android-free logic lives in ../core/src/main/kotlin (tested on the
// desktop JVM by ../core/pom.xml) and is compiled into the app from there.

plugins {
    id("com.android.application") version "9.5.0"
}

/** A Gradle property (`-P` or ~/.gradle/gradle.properties) as a Java string literal. */
fun prop(name: String, default: String): String =
    "\"" + (providers.gradleProperty(name).orNull ?: default).replace("\\", "\\\\").replace("\"", "\\\"") + "\""

android {
    namespace = "dev.vodupload.sample"
    compileSdk = 36

    defaultConfig {
        applicationId = "dev.vodupload.sample"
        minSdk = 26
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"

        // Where the sample uploads. Defaults: a vod-sim on the development machine, which the
        // device reaches through `adb reverse tcp:8900 tcp:8900` (`vod-sim --listen 127.0.0.1:8900 --access-key-id demo
        // --access-key-secret demo-secret`). Mode 2 with an account key is for the simulator
        // only: a real app gets STS tokens or UploadAuth from its server (CredentialsUrl).
        buildConfigField("String", "VOD_ENDPOINT", prop("vodUpload.vodEndpoint", "http://127.0.0.1:8900"))
        buildConfigField("String", "REGION", prop("vodUpload.region", "cn-shanghai"))
        buildConfigField("String", "ACCESS_KEY_ID", prop("vodUpload.accessKeyId", "demo"))
        buildConfigField("String", "ACCESS_KEY_SECRET", prop("vodUpload.accessKeySecret", "demo-secret"))
        // An app server answering POST {url} with the STS token as JSON (see README); empty:
        // use the key above.
        buildConfigField("String", "CREDENTIALS_URL", prop("vodUpload.credentialsUrl", ""))
        buildConfigField("boolean", "ALLOW_HTTP", providers.gradleProperty("vodUpload.allowHttp").orNull ?: "true")
    }

    buildFeatures {
        buildConfig = true
    }

    buildTypes {
        release {
            // Shrinks the app; the library's consumer rules keep JNA and the bindings.
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
            signingConfig = signingConfigs.getByName("debug")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    // The Robolectric tests of src/test, with the app's resources (CI runs them through
    // pom.xml; under Gradle they need `cargo build --release` for the host library and vod-sim).
    testOptions {
        unitTests.isIncludeAndroidResources = true
        unitTests.all { test ->
            val release = rootDir.resolve("../target/release")
            val hostLib = if (System.getProperty("os.name").startsWith("Mac")) "libvod_upload.dylib" else "libvod_upload.so"
            test.systemProperty("uniffi.component.vod_upload.libraryOverride", release.resolve(hostLib).path)
            test.systemProperty("vodupload.sim", release.resolve("vod-sim").path)
            test.jvmArgs("--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED")
        }
    }
    sourceSets {
        getByName("test") {
            kotlin.srcDir("../../bindings/kotlin/src/testFixtures/kotlin")
        }
    }
}

androidComponents {
    onVariants { variant ->
        variant.sources.kotlin?.addStaticSourceDirectory("../core/src/main/kotlin")
    }
}

// Keep in step with bindings/kotlin/android/androidx-classes/pom.xml, which lists what these
// resolve to for the Maven build that CI compiles and tests (pom.xml beside this file):
// lifecycle 2.6.2 throughout, as activity 1.10.1 and core 1.16.0 need.
dependencies {
    implementation("dev.vodupload:vod-upload-android:0.1.0")
    implementation("androidx.activity:activity-ktx:1.10.1")
    implementation("androidx.core:core-ktx:1.16.0")
    implementation("androidx.lifecycle:lifecycle-runtime-ktx:2.6.2")
    implementation("androidx.lifecycle:lifecycle-service:2.6.2")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.11.0")

    testImplementation("org.robolectric:robolectric:4.14.1")
    testImplementation("junit:junit:4.13.2")
}
