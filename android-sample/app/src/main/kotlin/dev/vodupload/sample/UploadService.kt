package dev.vodupload.sample

import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.content.Context
import android.content.Intent
import android.content.pm.ServiceInfo
import android.os.Build
import androidx.core.app.NotificationCompat
import androidx.core.app.ServiceCompat
import androidx.core.content.ContextCompat
import androidx.lifecycle.lifecycleScope
import dev.vodupload.FileStatus
import dev.vodupload.sample.core.UploadSession
import kotlinx.coroutines.launch

/**
 * A `dataSync` foreground service that keeps the process (and so the uploads) alive while the
 * app is in the background, with a progress notification. It stops itself when the queue is
 * finished. The upload work itself stays in the app-scoped client.
 */
class UploadService : DataSyncService() {
    private val app get() = application as SampleApp

    override fun onCreate() {
        super.onCreate()
        val manager = getSystemService(NotificationManager::class.java)
        manager.createNotificationChannel(
            NotificationChannel(CHANNEL, getString(R.string.channel_name), NotificationManager.IMPORTANCE_LOW),
        )
        ServiceCompat.startForeground(
            this,
            NOTIFICATION_ID,
            notification(0, 0),
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) ServiceInfo.FOREGROUND_SERVICE_TYPE_DATA_SYNC else 0,
        )
        lifecycleScope.launch {
            app.uploader.files().collect { files ->
                if (!UploadSession.needsForeground(files)) {
                    stopSelf()
                } else {
                    val total = files.sumOf { it.bytesTotal }
                    val done = files.sumOf { it.bytesUploaded }
                    val left = files.count { it.status != FileStatus.SUCCEEDED && it.status != FileStatus.CANCELED }
                    manager.notify(NOTIFICATION_ID, notification((done * 100 / maxOf(total, 1)).toInt(), left))
                }
            }
        }
    }

    /** Android 15 limits `dataSync` services to 6 hours a day: pause, checkpoints are kept. */
    override fun onDataSyncTimeout() {
        app.session.pause()
        stopSelf()
    }

    private fun notification(percent: Int, files: Int): Notification =
        NotificationCompat.Builder(this, CHANNEL)
            .setSmallIcon(android.R.drawable.stat_sys_upload)
            .setContentTitle(getString(R.string.notification_title))
            .setContentText(if (files > 0) "$files file(s) left" else null)
            .setProgress(100, percent, false)
            .setOngoing(true)
            .setOnlyAlertOnce(true)
            .build()

    companion object {
        private const val CHANNEL = "uploads"
        private const val NOTIFICATION_ID = 1

        /** Call while the app is in the foreground (Android 12+ refuses it from the background). */
        fun start(context: Context) =
            ContextCompat.startForegroundService(context, Intent(context, UploadService::class.java))
    }
}
