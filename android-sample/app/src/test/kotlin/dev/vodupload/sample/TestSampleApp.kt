package dev.vodupload.sample

import android.net.ConnectivityManager
import android.net.NetworkCapabilities
import android.net.NetworkInfo
import dev.vodupload.ClientConfig
import dev.vodupload.Sim
import dev.vodupload.VodUploadClient
import dev.vodupload.testConfig
import org.robolectric.Shadows.shadowOf
import org.robolectric.shadows.ShadowNetworkCapabilities
import org.robolectric.shadows.ShadowNetworkInfo
import java.nio.file.Files

/**
 * The sample app as it runs on a phone on Wi-Fi, pointed at the test's vod-sim instead of the
 * BuildConfig endpoint. Everything else (the library's Android defaults, the network monitor,
 * the session) is the real SampleApp.
 */
class TestSampleApp : SampleApp() {
    override fun onCreate() {
        // The default network the app's monitor finds when it starts: unmetered, validated Wi-Fi.
        val connectivity = getSystemService(ConnectivityManager::class.java)
        val shadow = shadowOf(connectivity)
        shadow.setActiveNetworkInfo(
            ShadowNetworkInfo.newInstance(NetworkInfo.DetailedState.CONNECTED, ConnectivityManager.TYPE_WIFI, 0, true, true),
        )
        shadow.setDefaultNetworkActive(true)
        val caps = ShadowNetworkCapabilities.newInstance()
        shadowOf(caps).apply {
            addTransportType(NetworkCapabilities.TRANSPORT_WIFI)
            addCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET)
            addCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED)
            addCapability(NetworkCapabilities.NET_CAPABILITY_NOT_ROAMING)
            addCapability(NetworkCapabilities.NET_CAPABILITY_VALIDATED)
        }
        shadow.setNetworkCapabilities(connectivity.activeNetwork, caps)
        super.onCreate()
    }

    // No database path: the library's Context default (noBackupFilesDir) applies.
    override fun clientConfig(): ClientConfig =
        testConfig(sim, Files.createTempDirectory("sample"), databasePath = null).copy(networkPolicy = super.clientConfig().networkPolicy)

    override fun authorize(client: VodUploadClient) = client.setStsToken(sim.accessKeyId, sim.accessKeySecret)

    companion object {
        /** Started by the test class before Robolectric creates the application. */
        lateinit var sim: Sim
    }
}
