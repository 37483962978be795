package dev.vodupload

/*
 * Conveniences over the generated `UploadEvent` sealed class (one type for every face: the
 * Rust core defines it, UniFFI generates it).
 */

/** The id of the file the event is about; `null` for [UploadEvent.AllDone]. */
val UploadEvent.fileId: String?
    get() = when (this) {
        is UploadEvent.Progress -> fileId
        is UploadEvent.Started -> file.id
        is UploadEvent.Succeeded -> file.id
        is UploadEvent.Failed -> file.id
        is UploadEvent.Canceled -> file.id
        is UploadEvent.TokenExpired -> file.id
        is UploadEvent.Retry -> file.id
        is UploadEvent.RetryResume -> file.id
        is UploadEvent.Waiting -> file.id
        UploadEvent.AllDone -> null
    }

/** `uploaded / total` in `0.0..1.0` (1.0 for an empty file). */
val UploadEvent.Progress.fraction: Double
    get() = if (total == 0L) 1.0 else uploaded.toDouble() / total.toDouble()

/** Succeeded, failed or canceled: the file's pass through the queue is over. */
val UploadEvent.isFileEnd: Boolean
    get() = this is UploadEvent.Succeeded || this is UploadEvent.Failed || this is UploadEvent.Canceled

/** An [UploadEventListener] from a lambda; [block] runs on the library's event thread. */
fun uploadEventListener(block: (UploadEvent) -> Unit): UploadEventListener =
    object : UploadEventListener {
        override fun onEvent(event: UploadEvent) = block(event)
    }
