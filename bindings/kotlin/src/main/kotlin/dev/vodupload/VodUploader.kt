package dev.vodupload

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.filter
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.onSubscription
import kotlinx.coroutines.runBlocking

/** A file did not upload: [code] is the service's or a client code (`Cancelled` if it was canceled or removed). */
class UploadFailedException(val fileId: String, val code: String, message: String) : Exception("$code: $message")

/**
 * A [VodUploadClient] with its events as a [SharedFlow] and `suspend` conveniences: the Kotlin
 * face of the library. Keep one per app (an application-scoped singleton) and [close] it only
 * when the app no longer uploads.
 *
 * It subscribes to the client's events (other subscribers and the client's [UploadListener]
 * are independent of it). Events are delivered in order to every collector; a collector that falls more than
 * [eventBuffer] events behind slows down event delivery (never the uploads themselves).
 */
class VodUploader(val client: VodUploadClient, eventBuffer: Int = 1024) : AutoCloseable {
    constructor(config: ClientConfig) : this(VodUploadClient(config))

    private val flow = MutableSharedFlow<UploadEvent>(extraBufferCapacity = eventBuffer)

    /** Every event of the client, to any number of collectors (hot: no replay). */
    val events: SharedFlow<UploadEvent> = flow.asSharedFlow()

    private val subscription: EventSubscription = client.subscribe(
        uploadEventListener { event ->
            // The library's event thread may wait here: it only delays later events.
            if (!flow.tryEmit(event)) runBlocking { flow.emit(event) }
        },
    )

    /** Progress of one file as a fraction in `0.0..1.0`. */
    fun progress(fileId: String): Flow<Double> =
        events.filterIsInstance<UploadEvent.Progress>().filter { it.fileId == fileId }.map { it.fraction }

    /**
     * Adds [path] to the queue, starts the queue unless it is paused, and suspends until the
     * file is uploaded. Throws [UploadFailedException] if it fails or is canceled. Cancelling
     * the calling coroutine cancels the file, keeping its uploaded parts (`resumeFile`
     * continues it).
     */
    suspend fun upload(path: String, vodInfo: VodInfo = VodInfo(), target: UploadTarget? = null): UploadResult {
        var fileId: String? = null
        try {
            val end = events
                .onSubscription {
                    // Subscribed before the file exists: no event can be missed.
                    fileId = client.addFile(path, vodInfo, target)
                    if (client.status() != ClientStatus.PAUSED) client.start()
                }.first { event -> event.isFileEnd && event.fileId == fileId }
            return when (end) {
                is UploadEvent.Succeeded -> end.result
                is UploadEvent.Failed -> throw UploadFailedException(end.file.id, end.code, end.message)
                else -> throw UploadFailedException(end.fileId.orEmpty(), "Cancelled", "the file was canceled or removed")
            }
        } catch (e: CancellationException) {
            fileId?.let { id -> runCatching { client.cancelFile(id, keepUpload = true) } }
            throw e
        }
    }

    /** Suspends until every file in the queue is finished (at once if it already is). */
    suspend fun awaitAllDone() {
        events
            .onSubscription { if (client.listFiles().all { it.status.isFinished() }) emit(UploadEvent.AllDone) }
            .first { it is UploadEvent.AllDone }
    }

    /** The queue's files, refreshed on every event that changes one of them. */
    fun files(): Flow<List<FileInfo>> =
        events
            // A first element once subscribed, so the current list comes at once and no
            // change between reading it and subscribing is missed.
            .onSubscription { emit(UploadEvent.AllDone) }
            .map { client.listFiles() }

    private val closeFirst = java.util.concurrent.CopyOnWriteArrayList<AutoCloseable>()

    /**
     * Closes [resource] when this uploader closes, before the client shuts down: for what lives
     * as long as the client, such as the Android network monitor.
     */
    fun closeWith(resource: AutoCloseable) {
        closeFirst.add(resource)
    }

    /** Shuts the client down (uploads stop, checkpoints stay) and releases it. */
    override fun close() {
        closeFirst.reversed().forEach { runCatching { it.close() } }
        closeFirst.clear()
        subscription.cancel()
        subscription.close()
        client.shutdown()
        client.close()
    }
}

/** Succeeded, failed or canceled: the queue will not pick the file up by itself. */
fun FileStatus.isFinished(): Boolean =
    this == FileStatus.SUCCEEDED || this == FileStatus.FAILED || this == FileStatus.CANCELED
