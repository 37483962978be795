package dev.vodupload.sample.core

import dev.vodupload.UploadEvent
import dev.vodupload.fileId
import dev.vodupload.fraction
import dev.vodupload.WaitingReason

/** What the sample's one screen shows for the file being uploaded. Pure: reduced from events. */
data class UploadScreenState(
    val fileId: String? = null,
    val fileName: String? = null,
    /** `0.0..1.0`. */
    val progress: Double = 0.0,
    val phase: Phase = Phase.IDLE,
    /** A line for the user: the error, or why the upload waits. */
    val message: String? = null,
    val videoId: String? = null,
) {
    enum class Phase { IDLE, UPLOADING, WAITING, PAUSED, SUCCEEDED, FAILED }

    val canPick: Boolean get() = phase == Phase.IDLE || phase == Phase.SUCCEEDED || phase == Phase.FAILED
    val canPause: Boolean get() = phase == Phase.UPLOADING || phase == Phase.WAITING
    val canResume: Boolean get() = phase == Phase.PAUSED
    val percent: Int get() = (progress * 100).toInt().coerceIn(0, 100)

    /** A new file was added to the queue. */
    fun picked(fileId: String, fileName: String) =
        UploadScreenState(fileId = fileId, fileName = fileName, phase = Phase.UPLOADING)

    /** The state after [event]; events of other files leave it unchanged. */
    fun reduce(event: UploadEvent): UploadScreenState {
        if (event.fileId != null && event.fileId != fileId) return this
        return when (event) {
            is UploadEvent.Started -> copy(phase = Phase.UPLOADING, message = null)
            is UploadEvent.Progress -> copy(
                progress = maxOf(progress, event.fraction),
                phase = if (phase == Phase.WAITING) Phase.UPLOADING else phase,
                message = if (phase == Phase.WAITING) null else message,
            )
            is UploadEvent.Succeeded -> copy(progress = 1.0, phase = Phase.SUCCEEDED, message = null, videoId = event.result.videoId)
            is UploadEvent.Failed -> copy(phase = Phase.FAILED, message = "${event.code}: ${event.message}")
            is UploadEvent.Canceled -> copy(phase = Phase.FAILED, message = if (event.deleted) "Removed" else "Canceled")
            is UploadEvent.TokenExpired -> copy(phase = Phase.WAITING, message = "Waiting for new upload credentials")
            is UploadEvent.Retry -> copy(message = "Retrying after ${event.code}")
            is UploadEvent.RetryResume -> copy(message = null)
            is UploadEvent.Waiting -> when (event.reason) {
                is WaitingReason.Paused -> copy(phase = Phase.PAUSED, message = null)
                else -> copy(phase = Phase.WAITING, message = waitingText(event.reason))
            }
            is UploadEvent.AllDone -> this
        }
    }

    /** After the app resumed a paused client. */
    fun resumed() = if (phase == Phase.PAUSED) copy(phase = Phase.UPLOADING) else this

    private fun waitingText(reason: WaitingReason) = when (reason) {
        is WaitingReason.Network -> "Waiting for Wi-Fi"
        is WaitingReason.Credentials -> "Waiting for upload credentials"
        is WaitingReason.Backoff -> "Network trouble, retrying shortly"
        is WaitingReason.TokenExpired -> "Waiting for new upload credentials"
        is WaitingReason.Paused -> "Paused"
    }
}
