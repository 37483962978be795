package dev.vodupload.sample

import android.app.Notification
import android.app.NotificationManager
import android.os.Looper
import dev.vodupload.ClientStatus
import dev.vodupload.FileStatus
import dev.vodupload.KIB
import dev.vodupload.Sim
import dev.vodupload.WAIT_MS
import dev.vodupload.writeFile
import org.junit.After
import org.junit.AfterClass
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertSame
import org.junit.Assert.assertTrue
import org.junit.BeforeClass
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import java.io.File
import java.util.concurrent.TimeUnit

/**
 * The sample's foreground service under Robolectric, with the real app (its activity, layout
 * and strings), the real library and a vod-sim: uploads outlive the activity and the service
 * ends itself when the queue is done.
 */
@RunWith(RobolectricTestRunner::class)
@Config(application = TestSampleApp::class)
class UploadServiceTest {
    private val app = RuntimeEnvironment.getApplication() as TestSampleApp

    @After
    fun tearDown() {
        app.uploader.close()
        TestSampleApp.sim.throttle(null)
    }

    /** Runs what the main thread has queued (the service's collector) until [condition] holds. */
    private fun waitOnMain(what: String, condition: () -> Boolean) {
        val deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS)
        while (true) {
            shadowOf(Looper.getMainLooper()).idle()
            if (condition()) return
            if (System.nanoTime() > deadline) throw AssertionError("timed out waiting for $what")
            Thread.sleep(20)
        }
    }

    private fun notificationProgress(): Int? =
        shadowOf(app.getSystemService(NotificationManager::class.java)).allNotifications
            .lastOrNull()?.extras?.getInt(Notification.EXTRA_PROGRESS)

    @Test
    fun `the upload outlives the activity and the service stops when the queue is done`() {
        val activity = Robolectric.buildActivity(MainActivity::class.java).setup()
        val client = app.uploader.client
        // A video in app storage (picks go through uploadUri, read in place: ContentUriSourceTest).
        TestSampleApp.sim.throttle(256 * KIB)
        val copy = writeFile(app.filesDir.toPath(), "holiday.mp4", 1024 * KIB)
        app.session.upload(copy, "holiday.mp4")
        UploadService.start(activity.get())

        val intent = shadowOf(app).nextStartedService
        assertEquals(UploadService::class.java.name, intent.component?.className)
        val service = Robolectric.buildService(UploadService::class.java, intent).create().startCommand(0, 1)
        assertNotNull("runs in the foreground", shadowOf(service.get()).lastForegroundNotification)

        waitOnMain("progress in the notification") { (notificationProgress() ?: 0) > 0 }
        // The user leaves: the activity goes, the app-scoped client and the service stay.
        activity.pause().stop().destroy()
        assertSame(client, app.uploader.client)
        assertEquals(ClientStatus.RUNNING, client.status())
        assertFalse(shadowOf(service.get()).isStoppedBySelf)

        TestSampleApp.sim.throttle(null)
        waitOnMain("the service stops itself") { shadowOf(service.get()).isStoppedBySelf }
        assertEquals(FileStatus.SUCCEEDED, client.listFiles().single().status)
        assertTrue("checkpoints in noBackupFilesDir (the library's default)", File(app.noBackupFilesDir, "vod-upload.db").exists())
    }

    @Test
    fun `the daily dataSync limit pauses the queue, checkpoints kept, and stops the service`() {
        TestSampleApp.sim.throttle(64 * KIB)
        val copy = writeFile(app.filesDir.toPath(), "long.mp4", 512 * KIB)
        app.session.upload(copy, "long.mp4")
        val service = Robolectric.buildService(UploadService::class.java).create().startCommand(0, 1)
        waitOnMain("uploading") { app.uploader.client.listFiles().single().status == FileStatus.UPLOADING }

        service.get().onTimeout(1, android.content.pm.ServiceInfo.FOREGROUND_SERVICE_TYPE_DATA_SYNC)
        assertEquals(ClientStatus.PAUSED, app.uploader.client.status())
        assertTrue(shadowOf(service.get()).isStoppedBySelf)
        assertTrue("the video waits for resume()", File(copy).exists())
    }

    companion object {
        @BeforeClass
        @JvmStatic
        fun startSim() {
            TestSampleApp.sim = Sim()
        }

        @AfterClass
        @JvmStatic
        fun stopSim() = TestSampleApp.sim.close()
    }
}
