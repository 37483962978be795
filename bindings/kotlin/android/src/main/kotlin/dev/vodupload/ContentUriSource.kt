package dev.vodupload

import android.content.ContentResolver
import android.content.Context
import android.net.Uri
import android.os.ParcelFileDescriptor
import android.provider.DocumentsContract
import android.provider.MediaStore
import android.provider.OpenableColumns
import java.io.FileInputStream
import java.io.FileNotFoundException
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.channels.FileChannel

/**
 * A `content://` (or `file://`) Uri read through the ContentResolver, at any offset, with
 * bounded memory: what lets the engine upload a picked video without copying it first.
 *
 * The engine calls [readAt] from its own threads, several parts at once; reads are positional
 * (`FileChannel.read(buffer, position)`), so they need no lock. The descriptor is opened once
 * and kept until [close] (or until the engine drops the source and it is collected).
 */
class ContentUriSource(context: Context, val uri: Uri) : ByteSource, AutoCloseable {
    private val resolver: ContentResolver = context.contentResolver
    private val lock = Any()
    private var descriptor: ParcelFileDescriptor? = null
    private var channel: FileChannel? = null
    private val size: Long
    private val displayName: String?
    private val modified: Long?

    init {
        var querySize: Long? = null
        var lastModified: Long? = null
        var name: String? = null
        mapErrors {
            resolver.query(uri, null, null, null, null)?.use { c ->
                if (c.moveToFirst()) {
                    fun col(n: String) = c.getColumnIndex(n).takeIf { it >= 0 && !c.isNull(it) }
                    col(OpenableColumns.SIZE)?.let { querySize = c.getLong(it) }
                    col(OpenableColumns.DISPLAY_NAME)?.let { name = c.getString(it) }
                    // Document providers give milliseconds, MediaStore seconds: either changes
                    // when the content does, which is all the engine needs.
                    lastModified = col(DocumentsContract.Document.COLUMN_LAST_MODIFIED)?.let { c.getLong(it) }
                        ?: col(MediaStore.MediaColumns.DATE_MODIFIED)?.let { c.getLong(it) }
                }
            }
        }
        size = querySize?.takeIf { it >= 0 } ?: mapErrors { open().statSize }.takeIf { it >= 0 }
            ?: throw SourceException.Io("the size of $uri is unknown")
        displayName = name ?: uri.lastPathSegment
        modified = lastModified
    }

    override fun size(): Long = size

    /** The provider's size and modification time: they change when the content does. */
    override fun version(): String? = modified?.let { "$size:$it" }

    /** `OpenableColumns.DISPLAY_NAME` (with the extension VOD needs), else the last segment. */
    override fun name(): String? = displayName

    /** Up to [length] bytes at [offset]; fewer only at the end of the content. */
    override fun readAt(offset: Long, length: Int): ByteArray {
        if (offset < 0 || length < 0) throw SourceException.Io("negative offset or length")
        val want = minOf(length.toLong(), maxOf(0L, size - offset)).toInt()
        val buffer = ByteBuffer.allocate(want)
        mapErrors {
            val channel = channel()
            var at = offset
            while (buffer.hasRemaining()) {
                val n = channel.read(buffer, at)
                if (n < 0) break
                at += n
            }
        }
        return if (buffer.position() == want) buffer.array() else buffer.array().copyOf(buffer.position())
    }

    override fun close() {
        synchronized(lock) {
            runCatching { channel?.close() }
            runCatching { descriptor?.close() }
            channel = null
            descriptor = null
        }
    }

    private fun open(): ParcelFileDescriptor = synchronized(lock) {
        descriptor ?: (resolver.openFileDescriptor(uri, "r") ?: throw FileNotFoundException("no data for $uri")).also { descriptor = it }
    }

    private fun channel(): FileChannel = synchronized(lock) {
        channel ?: FileInputStream(open().fileDescriptor).channel.also { channel = it }
    }

    private inline fun <T> mapErrors(block: () -> T): T = try {
        block()
    } catch (e: SourceException) {
        throw e
    } catch (e: FileNotFoundException) {
        throw SourceException.NotFound("$uri: ${e.message}")
    } catch (e: SecurityException) {
        throw SourceException.PermissionDenied("$uri: ${e.message}")
    } catch (e: IOException) {
        throw SourceException.Io("$uri: ${e.message}")
    }
}

/**
 * Opens the Uris given to `addUri` (`content://` and `file://`) through the app's
 * ContentResolver. [VodUploader] (Context) installs one, so files added by Uri upload, and
 * resume after the process dies, without copying.
 */
class ContentResolverOpener(context: Context) : SourceOpener {
    private val context = context.applicationContext ?: context

    override fun openUri(uri: String): ByteSource {
        val parsed = Uri.parse(uri)
        if (parsed.scheme != ContentResolver.SCHEME_CONTENT && parsed.scheme != ContentResolver.SCHEME_FILE) {
            throw SourceException.NotFound("not a content:// or file:// Uri: $uri")
        }
        return ContentUriSource(context, parsed)
    }
}

/**
 * Adds a picked `content://` Uri to the queue without copying it (see [VodUploadClient.addUri]):
 * the client must have an opener, as clients made from a Context do. The target defaults to an
 * image for `image/` types, else a video.
 */
@JvmOverloads
fun VodUploadClient.addUri(context: Context, uri: Uri, vodInfo: VodInfo = VodInfo(), target: UploadTarget? = null): String {
    val type = target ?: context.contentResolver.getType(uri)?.let { if (it.startsWith("image/")) UploadTarget.Image else null }
    return addUri(uri.toString(), vodInfo, type)
}
