package dev.vodupload

/**
 * One event of a [VodUploadClient] as a value: the [UploadListener] callbacks, reified so they
 * can travel through a `Flow` and be matched with `when`.
 */
sealed interface UploadEvent {
    /** The id of the file the event is about; `null` for [AllDone]. */
    val fileId: String?

    /** A file was picked from the queue (mode 1: answer with `setUploadAuthAndAddress`). */
    data class Started(val file: FileInfo) : UploadEvent {
        override val fileId: String get() = file.id
    }

    /** Bytes uploaded so far (monotonic, throttled). */
    data class Progress(override val fileId: String, val uploaded: ULong, val total: ULong) : UploadEvent {
        /** `uploaded / total` in `0.0..1.0` (1.0 for an empty file). */
        val fraction: Double get() = if (total == 0uL) 1.0 else uploaded.toDouble() / total.toDouble()
    }

    data class Succeeded(val file: FileInfo, val result: UploadResult) : UploadEvent {
        override val fileId: String get() = file.id
    }

    /** The file failed for good; [code] is the service's or a client code. */
    data class Failed(val file: FileInfo, val code: String, val message: String) : UploadEvent {
        override val fileId: String get() = file.id
    }

    /** Call `resumeWithAuth` (mode 1) or `resumeWithToken` (mode 2). */
    data class TokenExpired(val file: FileInfo) : UploadEvent {
        override val fileId: String get() = file.id
    }

    data class Retry(val file: FileInfo, val code: String, val message: String) : UploadEvent {
        override val fileId: String get() = file.id
    }

    data class RetryResume(val file: FileInfo) : UploadEvent {
        override val fileId: String get() = file.id
    }

    /** The file is started but not sending bytes, and why. */
    data class Waiting(val file: FileInfo, val reason: WaitingReason) : UploadEvent {
        override val fileId: String get() = file.id
    }

    /** Every file in the queue is finished (succeeded, failed or canceled). */
    data object AllDone : UploadEvent {
        override val fileId: String? get() = null
    }
}

/**
 * An [UploadListener] that hands every callback to [onEvent] as an [UploadEvent]. [onEvent]
 * runs on the library's event thread, one event at a time.
 */
class UploadEventListener(private val onEvent: (UploadEvent) -> Unit) : UploadListener {
    override fun started(file: FileInfo) = onEvent(UploadEvent.Started(file))

    override fun progress(fileId: String, uploaded: ULong, total: ULong) =
        onEvent(UploadEvent.Progress(fileId, uploaded, total))

    override fun succeeded(file: FileInfo, result: UploadResult) = onEvent(UploadEvent.Succeeded(file, result))

    override fun failed(file: FileInfo, code: String, message: String) =
        onEvent(UploadEvent.Failed(file, code, message))

    override fun tokenExpired(file: FileInfo) = onEvent(UploadEvent.TokenExpired(file))

    override fun retry(file: FileInfo, code: String, message: String) = onEvent(UploadEvent.Retry(file, code, message))

    override fun retryResume(file: FileInfo) = onEvent(UploadEvent.RetryResume(file))

    override fun waiting(file: FileInfo, reason: WaitingReason) = onEvent(UploadEvent.Waiting(file, reason))

    override fun allDone() = onEvent(UploadEvent.AllDone)
}
