package dev.vodupload

import android.content.Context
import java.io.File

/**
 * Android defaults: the checkpoint database in the app's `noBackupFilesDir` (so uploads resume
 * after the process dies, unless the app opts out), `content://` Uris read in place through a
 * [ContentResolverOpener] (`addUri`, no copy), and the client told about every network change
 * by an [AndroidNetworkMonitor].
 *
 * ```kotlin
 * val uploader = VodUploader(context, ClientConfig(networkPolicy = NetworkPolicy.WifiOnly))
 * ```
 * ```java
 * VodUploader uploader = VodUploadAndroid.createUploader(context, new ClientConfigBuilder().build());
 * ```
 */
object VodUploadAndroid {
    /** The database's file name in [Context.getNoBackupFilesDir]. */
    const val DATABASE_NAME = "vod-upload.db"

    /**
     * Where the checkpoints go by default: `noBackupFilesDir`, because they describe uploads
     * in progress on this device and must not be restored onto another one from a backup.
     */
    @JvmStatic
    fun defaultDatabaseFile(context: Context): File = File(context.noBackupFilesDir, DATABASE_NAME)

    /**
     * [config] with the default database path filled in, unless it names one itself or
     * [persistent] is false (memory only: nothing survives the process).
     */
    @JvmStatic
    @JvmOverloads
    fun config(context: Context, config: ClientConfig = ClientConfig(), persistent: Boolean = true): ClientConfig =
        if (!persistent || config.databasePath != null) config else config.copy(databasePath = defaultDatabaseFile(context).path)

    /**
     * A client with [config] ([VodUploadAndroid.config]'s defaults) that reads Uris through the
     * ContentResolver; no network monitor.
     */
    @JvmStatic
    @JvmOverloads
    fun createClient(context: Context, config: ClientConfig = ClientConfig(), persistent: Boolean = true): VodUploadClient =
        VodUploadClient(config(context, config, persistent)).also { it.setSourceOpener(ContentResolverOpener(context)) }

    /**
     * An uploader with [config] ([VodUploadAndroid.config]'s defaults) whose client follows the
     * default network ([followNetwork]) until [VodUploader.close].
     */
    @JvmStatic
    @JvmOverloads
    fun createUploader(
        context: Context,
        config: ClientConfig = ClientConfig(),
        persistent: Boolean = true,
        followNetwork: Boolean = true,
    ): VodUploader {
        val uploader = VodUploader(createClient(context, config, persistent))
        if (followNetwork) {
            val monitor = AndroidNetworkMonitor(context, uploader.client)
            // Stopped before the client shuts down, so it never talks to a closed client.
            uploader.closeWith(monitor)
            monitor.start()
        }
        return uploader
    }
}

/** Kotlin's spelling of [VodUploadAndroid.createUploader]: `VodUploader(context, config)`. */
fun VodUploader(
    context: Context,
    config: ClientConfig = ClientConfig(),
    persistent: Boolean = true,
    followNetwork: Boolean = true,
): VodUploader = VodUploadAndroid.createUploader(context, config, persistent, followNetwork)
