package dev.vodupload.sample.core

import dev.vodupload.ClientConfig
import dev.vodupload.NetworkPolicy
import dev.vodupload.NetworkState
import dev.vodupload.NetworkType
import dev.vodupload.VodUploader
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.BufferedReader
import java.io.InputStreamReader
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.TimeUnit

/** The sample's logic with the real library against vod-sim, as the app runs it. */
class UploadSessionTest {
    @TempDir
    lateinit var dir: Path
    private lateinit var sim: Process
    private lateinit var uploader: VodUploader
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    @BeforeEach
    fun open() {
        sim = ProcessBuilder(System.getProperty("vodupload.sim")).redirectError(ProcessBuilder.Redirect.DISCARD).start()
        val line = BufferedReader(InputStreamReader(sim.inputStream)).readLine() ?: error("vod-sim did not start")
        val info = Regex("\"(\\w+)\":\"([^\"]*)\"").findAll(line).associate { it.groupValues[1] to it.groupValues[2] }
        uploader = VodUploader(
            ClientConfig(
                databasePath = dir.resolve("uploads.db").toString(),
                vodEndpoint = info.getValue("vod_endpoint"),
                region = info.getValue("region"),
                allowHttp = true,
                partSize = 102400L,
                networkPolicy = NetworkPolicy.WifiOnly,
            ),
        )
        uploader.client.setStsToken(info.getValue("access_key_id"), info.getValue("access_key_secret"))
    }

    @AfterEach
    fun close() {
        scope.cancel()
        uploader.close()
        sim.destroy()
        sim.waitFor(10, TimeUnit.SECONDS)
    }

    @Test
    fun `a picked video waits on cellular and uploads once on wifi`() = runBlocking {
        withTimeout(60_000) {
            val session = UploadSession(uploader, scope)
            // What the app's network monitor reports (AndroidNetworkMonitor in the library).
            uploader.client.setNetworkState(NetworkState(NetworkType.CELLULAR, metered = true))
            val path = dir.resolve("holiday.mp4").also { Files.write(it, ByteArray(300 * 1024) { i -> (i % 251).toByte() }) }
            session.upload(path.toString(), "holiday.mp4")
            val waiting = session.state.first { it.phase == UploadScreenState.Phase.WAITING }
            assertEquals("Waiting for Wi-Fi", waiting.message)

            uploader.client.setNetworkState(NetworkState(NetworkType.WIFI))
            val done = session.state.first { it.phase == UploadScreenState.Phase.SUCCEEDED }
            assertEquals(100, done.percent)
            assertEquals("holiday.mp4", done.fileName)
            assertEquals(false, UploadSession.needsForeground(uploader.client.listFiles()))
        }
    }
}
