package dev.vodupload

import android.content.ContentProvider
import android.content.ContentValues
import android.database.Cursor
import android.database.MatrixCursor
import android.net.Uri
import android.os.ParcelFileDescriptor
import android.provider.OpenableColumns
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotEquals
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
        MatrixCursor(arrayOf(OpenableColumns.DISPLAY_NAME, OpenableColumns.SIZE)).apply { addRow(arrayOf<Any>(file.name, file.length())) }

    override fun openFile(uri: Uri, mode: String): ParcelFileDescriptor = ParcelFileDescriptor.open(file, ParcelFileDescriptor.MODE_READ_ONLY)

    override fun getType(uri: Uri) = "video/mp4"
    override fun insert(uri: Uri, values: ContentValues?): Uri? = null
    override fun delete(uri: Uri, selection: String?, args: Array<out String>?) = 0
    override fun update(uri: Uri, values: ContentValues?, selection: String?, args: Array<out String>?) = 0

    companion object {
        lateinit var file: File
    }
}

@RunWith(RobolectricTestRunner::class)
class ContentUriSourceTest {
    @get:Rule
    val tmp = TemporaryFolder()

    @Test
    fun `reads a content Uri at any offset, with its size and a fingerprint that follows the content`() {
        val data = ByteArray(300 * 1024) { (it % 251).toByte() }
        VideoProvider.file = tmp.newFile("picked.mp4").apply { writeBytes(data) }
        Robolectric.setupContentProvider(VideoProvider::class.java, "media.test")
        val uri = Uri.parse("content://media.test/video/1")

        val first = ContentUriSource(RuntimeEnvironment.getApplication(), uri)
        first.use { source ->
            assertEquals(data.size.toLong(), source.size)
            assertArrayEquals(data.copyOfRange(0, 1000), source.readAt(0, 1000))
            assertArrayEquals(data.copyOfRange(200 * 1024, 300 * 1024), source.readAt(200 * 1024L, 100 * 1024))
            // The last part is short; past the end there is nothing.
            assertArrayEquals(data.copyOfRange(data.size - 10, data.size), source.readAt(data.size - 10L, 4096))
            assertEquals(0, source.readAt(data.size.toLong(), 10).size)
        }

        VideoProvider.file.appendBytes(ByteArray(1))
        ContentUriSource(RuntimeEnvironment.getApplication(), uri).use { changed ->
            assertNotEquals("a changed file has another fingerprint", first.fingerprint, changed.fingerprint)
        }
    }
}
