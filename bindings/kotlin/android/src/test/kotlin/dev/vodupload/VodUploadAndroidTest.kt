package dev.vodupload

import android.app.Application
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import java.io.File

/** The Context defaults: a persistent queue in noBackupFilesDir and a network monitor. */
@RunWith(RobolectricTestRunner::class)
class VodUploadAndroidTest {
    private val app: Application = RuntimeEnvironment.getApplication()
    private val net = FakeNetworks(app)

    @Test
    fun `the database goes to noBackupFilesDir unless the app says otherwise`() {
        assertEquals(File(app.noBackupFilesDir, "vod-upload.db").path, VodUploadAndroid.config(app).databasePath)
        assertNull(VodUploadAndroid.config(app, persistent = false).databasePath)
        assertEquals("/elsewhere.db", VodUploadAndroid.config(app, ClientConfig(databasePath = "/elsewhere.db")).databasePath)
    }

    @Test
    fun `the queue survives the uploader, and the monitor lives as long as it`() {
        val video = File(app.filesDir, "clip.mp4").apply { writeBytes(ByteArray(1000) { it.toByte() }) }
        val first = VodUploader(app)
        assertEquals(1, net.callbacks.size)
        val id = first.client.addFile(video.path, VodInfo(title = "clip"))
        first.close()
        assertEquals("closing the uploader stops its monitor", 0, net.callbacks.size)

        // As after the process died: a new uploader finds the file in the queue.
        val second = VodUploader(app, followNetwork = false)
        try {
            assertEquals(listOf(id), second.client.listFiles().map { it.id })
            assertEquals(0, net.callbacks.size)
        } finally {
            second.close()
        }
    }
}
