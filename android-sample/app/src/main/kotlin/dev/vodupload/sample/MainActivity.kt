package dev.vodupload.sample

import android.Manifest
import android.net.Uri
import android.os.Build
import android.os.Bundle
import android.provider.OpenableColumns
import android.widget.Button
import android.widget.ProgressBar
import android.widget.TextView
import android.widget.Toast
import androidx.activity.ComponentActivity
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.repeatOnLifecycle
import dev.vodupload.ClientStatus
import dev.vodupload.VodUploadException
import dev.vodupload.sample.core.UploadScreenState
import dev.vodupload.sample.core.UploadSession
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/** One screen: pick a video, watch it upload, pause and resume. */
class MainActivity : ComponentActivity() {
    private val app get() = application as SampleApp

    private val pickVideo = registerForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri ->
        if (uri != null) upload(uri)
    }

    private val askNotifications = registerForActivityResult(ActivityResultContracts.RequestPermission()) { }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        val pick = findViewById<Button>(R.id.pick)
        val pause = findViewById<Button>(R.id.pause)
        val resume = findViewById<Button>(R.id.resume)
        pick.setOnClickListener {
            pickVideo.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.VideoOnly))
        }
        pause.setOnClickListener { app.session.pause() }
        resume.setOnClickListener {
            app.session.resume()
            UploadService.start(this)
        }
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            askNotifications.launch(Manifest.permission.POST_NOTIFICATIONS)
        }
        // Files left from an earlier run continue by themselves; keep them going in the background.
        val client = app.uploader.client
        if (UploadSession.needsForeground(client.listFiles()) && client.status() != ClientStatus.PAUSED) {
            client.start()
            UploadService.start(this)
        }
        lifecycleScope.launch {
            repeatOnLifecycle(Lifecycle.State.STARTED) {
                app.session.state.collect { render(it, pick, pause, resume) }
            }
        }
    }

    private fun render(state: UploadScreenState, pick: Button, pause: Button, resume: Button) {
        findViewById<TextView>(R.id.title).text = state.fileName ?: getString(R.string.idle)
        findViewById<ProgressBar>(R.id.progress).progress = state.percent
        findViewById<TextView>(R.id.message).text = state.message
            ?: state.videoId?.let { "Uploaded: video $it" }
            ?: "${state.percent}%"
        pick.isEnabled = state.canPick
        pause.isEnabled = state.canPause
        resume.isEnabled = state.canResume
    }

    /** Queues the picked video by its Uri: the library reads it in place, no copy. */
    private fun upload(uri: Uri) = lifecycleScope.launch {
        try {
            withContext(Dispatchers.IO) { app.session.uploadUri(uri.toString(), displayName(uri)) }
            UploadService.start(this@MainActivity)
        } catch (e: VodUploadException) {
            Toast.makeText(this@MainActivity, e.message, Toast.LENGTH_LONG).show()
        } catch (e: java.io.IOException) {
            Toast.makeText(this@MainActivity, "Cannot read the video: ${e.message}", Toast.LENGTH_LONG).show()
        }
    }

    private fun displayName(uri: Uri): String =
        contentResolver.query(uri, arrayOf(OpenableColumns.DISPLAY_NAME), null, null, null)?.use { c ->
            if (c.moveToFirst()) c.getString(0) else null
        } ?: "video.mp4"
}
