package dev.vodupload

import android.content.ContentResolver
import android.content.Context
import android.net.Uri
import android.os.ParcelFileDescriptor
import android.provider.OpenableColumns
import android.provider.DocumentsContract
import java.io.FileInputStream
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.channels.FileChannel

/**
 * Reads a `content://` Uri (a photo-picker or document pick) at any offset, with bounded
 * memory, through the ContentResolver: the Android side of the planned byte-source upload
 * (issue #14, "Uploads from a Uri without copying"). The engine does not take a byte source
 * yet; once its callback interface exists this class implements it, so apps stop copying picks
 * into their storage.
 *
 * [size] and [fingerprint] are read once, when it is created; [readAt] opens the file
 * descriptor on first use and keeps it until [close].
 */
class ContentUriSource(context: Context, val uri: Uri) : AutoCloseable {
    private val resolver: ContentResolver = context.contentResolver
    private val lock = Any()
    private var descriptor: ParcelFileDescriptor? = null
    private var channel: FileChannel? = null

    /** Bytes, from the provider's `OpenableColumns.SIZE`, else from the descriptor. */
    val size: Long

    /**
     * What identifies this content for a resume: the Uri, its size and (for document
     * providers) its last-modified time. A changed fingerprint means the checkpoint no longer
     * matches the bytes.
     */
    val fingerprint: String

    init {
        var querySize: Long? = null
        var modified: Long? = null
        resolver.query(uri, null, null, null, null)?.use { c ->
            if (c.moveToFirst()) {
                val s = c.getColumnIndex(OpenableColumns.SIZE)
                if (s >= 0 && !c.isNull(s)) querySize = c.getLong(s)
                val m = c.getColumnIndex(DocumentsContract.Document.COLUMN_LAST_MODIFIED)
                if (m >= 0 && !c.isNull(m)) modified = c.getLong(m)
            }
        }
        size = querySize ?: open().statSize.takeIf { it >= 0 } ?: throw IOException("size of $uri unknown")
        fingerprint = "$uri|$size|${modified ?: ""}"
    }

    /**
     * Reads up to [length] bytes at [offset]; fewer only at the end of the content. Safe from
     * any thread (positional reads; no shared position).
     */
    fun readAt(offset: Long, length: Int): ByteArray {
        require(offset >= 0 && length >= 0) { "offset and length must be >= 0" }
        val channel = channel()
        val buffer = ByteBuffer.allocate(minOf(length.toLong(), maxOf(0L, size - offset)).toInt())
        var at = offset
        while (buffer.hasRemaining()) {
            val n = channel.read(buffer, at)
            if (n < 0) break
            at += n
        }
        return if (buffer.position() == buffer.capacity()) buffer.array() else buffer.array().copyOf(buffer.position())
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
        descriptor ?: (resolver.openFileDescriptor(uri, "r") ?: throw IOException("no data for $uri")).also { descriptor = it }
    }

    private fun channel(): FileChannel = synchronized(lock) {
        channel ?: FileInputStream(open().fileDescriptor).channel.also { channel = it }
    }
}
