package dev.vodupload.sample.core

import dev.vodupload.ClientStatus
import dev.vodupload.FileInfo
import dev.vodupload.VodInfo
import dev.vodupload.VodUploadClient
import dev.vodupload.VodUploader
import dev.vodupload.isFinished
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

/**
 * The sample's upload logic, free of Android classes: one screen's worth of state over the
 * app-wide [VodUploader]. The Activity calls [upload], [pause] and [resume], and renders
 * [state]; the foreground service asks [needsForeground]. (The network is followed by the
 * library's AndroidNetworkMonitor, which the app's uploader starts.)
 */
class UploadSession(private val uploader: VodUploader, scope: CoroutineScope) {
    private val mutable = MutableStateFlow(UploadScreenState())
    val state: StateFlow<UploadScreenState> = mutable.asStateFlow()

    init {
        scope.launch { uploader.events.collect { e -> mutable.update { it.reduce(e) } } }
    }

    /** Queues the file at [path] and starts uploading. */
    fun upload(path: String, displayName: String) = queue(displayName) { client, info -> client.addFile(path, info) }

    /**
     * Queues a picked `content://` [uri], read in place through the client's source opener (no
     * copy; the Context-made uploader has one), and starts uploading.
     */
    fun uploadUri(uri: String, displayName: String) = queue(displayName) { client, info -> client.addUri(uri, info, null) }

    private fun queue(displayName: String, add: (VodUploadClient, VodInfo) -> String) {
        val client = uploader.client
        val id = add(client, VodInfo(title = displayName.substringBeforeLast('.')))
        mutable.update { it.picked(id, displayName) }
        when (client.status()) {
            ClientStatus.PAUSED -> client.resume()
            else -> client.start()
        }
    }

    fun pause() {
        if (uploader.client.status() == ClientStatus.RUNNING) uploader.client.pause()
    }

    fun resume() {
        if (uploader.client.status() == ClientStatus.PAUSED) {
            uploader.client.resume()
            mutable.update { it.resumed() }
        }
    }

    companion object {
        /** Whether uploads are pending, so the app should keep a foreground service running. */
        fun needsForeground(files: List<FileInfo>): Boolean = files.any { !it.status.isFinished() }
    }
}
