package dev.vodupload

import android.app.Application
import android.content.ContentProvider
import android.content.ContentValues
import android.database.Cursor
import android.database.MatrixCursor
import android.net.Uri
import android.os.ParcelFileDescriptor
import android.provider.DocumentsContract
import android.provider.OpenableColumns
import org.junit.After
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotEquals
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import java.io.File

/** A provider serving one file, as a gallery app serves a picked video. */
class VideoProvider : ContentProvider() {
    override fun onCreate() = true

    override fun query(uri: Uri, projection: Array<out String>?, selection: String?, args: Array<out String>?, sort: String?): Cursor =
        MatrixCursor(arrayOf(OpenableColumns.DISPLAY_NAME, OpenableColumns.SIZE, DocumentsContract.Document.COLUMN_LAST_MODIFIED))
            .apply { addRow(arrayOf<Any>(displayName, file.length(), file.lastModified())) }

    override fun openFile(uri: Uri, mode: String): ParcelFileDescriptor {
        opens++
        return ParcelFileDescriptor.open(file, ParcelFileDescriptor.MODE_READ_ONLY)
    }

    override fun getType(uri: Uri) = "video/mp4"
    override fun insert(uri: Uri, values: ContentValues?): Uri? = null
    override fun delete(uri: Uri, selection: String?, args: Array<out String>?) = 0
    override fun update(uri: Uri, values: ContentValues?, selection: String?, args: Array<out String>?) = 0

    companion object {
        lateinit var file: File
        var displayName = "Picked video.mp4"
        @Volatile var opens = 0
    }
}

/**
 * Uploads from a `content://` Uri: read in place through the ContentResolver (no copy), into a
 * real client uploading to vod-sim, and resumed by a new uploader after the process "dies".
 */
@RunWith(RobolectricTestRunner::class)
class ContentUriSourceTest {
    @get:Rule
    val tmp = TemporaryFolder()

    private lateinit var app: Application
    private lateinit var sim: Sim
    private val uri = Uri.parse("content://media.test/video/1")

    @Before
    fun setUp() {
        app = RuntimeEnvironment.getApplication()
        sim = Sim()
        Robolectric.setupContentProvider(VideoProvider::class.java, "media.test")
        VideoProvider.opens = 0
    }

    @After
    fun tearDown() = sim.close()

    private fun publish(size: Int): ByteArray {
        val data = ByteArray(size) { (it * 31 % 251).toByte() }
        VideoProvider.file = tmp.newFile().apply { writeBytes(data) }
        return data
    }

    @Test
    fun `reads a content Uri at any offset, with its size, name and a version that follows the content`() {
        val data = publish(300 * KIB)
        val first = ContentUriSource(app, uri)
        first.use { source ->
            assertEquals(data.size.toLong(), source.size())
            assertEquals("Picked video.mp4", source.name())
            assertArrayEquals(data.copyOfRange(0, 1000), source.readAt(0, 1000))
            assertArrayEquals(data.copyOfRange(200 * KIB, 300 * KIB), source.readAt(200 * KIB.toLong(), 100 * KIB))
            // The last chunk is short; past the end there is nothing.
            assertArrayEquals(data.copyOfRange(data.size - 10, data.size), source.readAt(data.size - 10L, 4096))
            assertEquals(0, source.readAt(data.size.toLong(), 10).size)
        }
        VideoProvider.file.appendBytes(ByteArray(1))
        ContentUriSource(app, uri).use { changed ->
            assertNotEquals("changed content has another version", first.version(), changed.version())
        }
        val missing = runCatching { ContentResolverOpener(app).openUri("content://nobody.here/1") }.exceptionOrNull()
        assertTrue("$missing", missing is SourceException.NotFound)
    }

    @Test
    fun `a picked video uploads from its Uri without a copy and resumes after the process dies`() {
        val data = publish(1024 * KIB)
        val config = testConfig(sim, tmp.root.toPath())
        sim.throttle(256 * KIB)
        val rec = Recorder()
        val first = VodUploader(app, config, followNetwork = false)
        first.client.setListener(rec)
        first.client.setStsToken(sim.accessKeyId, sim.accessKeySecret)
        val id = first.client.addUri(app, uri)
        val added = first.client.file(id)!!
        assertTrue(added.isUri)
        assertEquals(uri.toString(), added.path)
        assertEquals(data.size.toLong(), added.bytesTotal)
        first.client.start()
        rec.waitFor("a third uploaded") { all ->
            all.filterIsInstance<UploadEvent.Progress>().firstOrNull { it.uploaded >= data.size / 3 }
        }
        first.close() // the process dies; the queue is in the database

        sim.throttle(null)
        val rec2 = Recorder()
        val second = VodUploader(app, config, followNetwork = false)
        try {
            second.client.setListener(rec2)
            second.client.setStsToken(sim.accessKeyId, sim.accessKeySecret)
            assertTrue("restored with its progress", second.client.file(id)!!.bytesUploaded > 0)
            second.client.start()
            val ok = rec2.waitEvent<UploadEvent.Succeeded>(id)
            assertEquals(data.size.toLong(), ok.file.bytesTotal)
            assertEquals(crc64(data).toULong().toString(), ok.result.crc64)
            // VOD took the media type from the display name, not from the Uri (which has none).
            assertTrue(ok.result.objectKey, ok.result.objectKey.endsWith(".mp4"))
            val parts = (data.size + 100 * KIB - 1) / (100 * KIB)
            val sent = SimStats.of(sim).uploadParts
            assertTrue("at most the parts in flight are sent again: $sent of $parts", sent <= parts + 2)
        } finally {
            second.close()
        }
        assertTrue("read through the provider", VideoProvider.opens >= 2)
        assertEquals("nothing copied to the app's storage", 0, app.cacheDir.listFiles()?.size ?: 0)
    }
}

/** CRC-64/XZ (ECMA-182, reflected), as OSS's `x-oss-hash-crc64ecma`: an independent check. */
fun crc64(data: ByteArray): Long {
    var crc = -1L
    for (b in data) {
        crc = crc xor (b.toLong() and 0xff)
        repeat(8) { crc = if (crc and 1L != 0L) (crc ushr 1) xor -0x3693a86a2878f0beL else crc ushr 1 }
    }
    return crc.inv()
}
