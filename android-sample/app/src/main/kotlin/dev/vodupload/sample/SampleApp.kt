package dev.vodupload.sample

import android.app.Application
import android.util.Log
import dev.vodupload.ClientConfig
import dev.vodupload.LogLevel
import dev.vodupload.NetworkPolicy
import dev.vodupload.VodUploadClient
import dev.vodupload.VodUploader
import dev.vodupload.initLogging
import dev.vodupload.sample.core.AppServerCredentials
import dev.vodupload.sample.core.UploadSession
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob

/**
 * Holds the app-scoped upload client: one per process, created with the app and never closed
 * (the process's end closes it). Activities and the service reach it through here, so a
 * rotation or a closed screen never interrupts an upload.
 *
 * Open only so the Robolectric tests can point it at their simulator ([clientConfig],
 * [authorize]).
 */
open class SampleApp : Application() {
    private val appScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    lateinit var uploader: VodUploader
        private set
    lateinit var session: UploadSession
        private set

    override fun onCreate() {
        super.onCreate()
        initLogging(if (BuildConfig.DEBUG) LogLevel.DEBUG else LogLevel.INFO, LogcatSink())
        // The library's Android defaults: checkpoints in noBackupFilesDir (device-specific,
        // never restored elsewhere), and the client follows the default network.
        uploader = VodUploader(this, clientConfig())
        uploader.client.recoveredDatabase()?.let { Log.w(TAG, "unreadable checkpoint database moved to $it") }
        authorize(uploader.client)
        session = UploadSession(uploader, appScope)
    }

    protected open fun clientConfig() = ClientConfig(
        vodEndpoint = BuildConfig.VOD_ENDPOINT,
        region = BuildConfig.REGION,
        allowHttp = BuildConfig.ALLOW_HTTP,
        networkPolicy = NetworkPolicy.WifiOnly,
    )

    protected open fun authorize(client: VodUploadClient) {
        if (BuildConfig.CREDENTIALS_URL.isNotEmpty()) {
            client.setCredentialProvider(AppServerCredentials(BuildConfig.CREDENTIALS_URL))
        } else {
            client.setStsToken(BuildConfig.ACCESS_KEY_ID, BuildConfig.ACCESS_KEY_SECRET)
        }
    }

    companion object {
        const val TAG = "vod-upload"
    }
}
