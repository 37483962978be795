package dev.vodupload

import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.flow.takeWhile
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path

/** The hand-written Kotlin layer: the event Flow and the suspend conveniences. */
class VodUploaderTest {
    @TempDir
    lateinit var dir: Path
    private lateinit var sim: Sim
    private lateinit var uploader: VodUploader

    @BeforeEach
    fun open() {
        sim = Sim()
        uploader = VodUploader(testConfig(sim, dir))
        uploader.client.setStsToken(sim.accessKeyId, sim.accessKeySecret)
    }

    @AfterEach
    fun close() {
        uploader.close()
        sim.close()
    }

    @Test
    fun `upload suspends until the file is uploaded and every collector sees the events`() = runBlocking {
        withTimeout(WAIT_MS) {
            val path = writeFile(dir, "flow.mp4", 450 * KIB)
            // Two independent collectors of the same events.
            val progress = async(start = CoroutineStart.UNDISPATCHED) {
                uploader.events.takeWhile { it !is UploadEvent.AllDone }.toList()
            }
            val done = async(start = CoroutineStart.UNDISPATCHED) { uploader.events.first { it is UploadEvent.AllDone } }
            val result = uploader.upload(path, VodInfo(title = "flow"))
            assertEquals((450 * KIB).toLong(), result.bytes)
            assertTrue(result.videoId != null)
            done.await()
            val seen = progress.await()
            assertTrue(seen.first() is UploadEvent.Started)
            val fractions = seen.filterIsInstance<UploadEvent.Progress>().map { it.fraction }
            assertEquals(1.0, fractions.last())
            assertTrue(fractions.zipWithNext().all { (a, b) -> a <= b })
        }
    }

    @Test
    fun `a failed upload throws UploadFailedException with the service code`() = runBlocking {
        withTimeout(WAIT_MS) {
            sim.faults("""[{"op":"CreateUploadVideo","action":"status","status":403,"code":"Forbidden.RAM"}]""")
            val failure = runCatching { uploader.upload(writeFile(dir, "denied.mp4", 150 * KIB)) }.exceptionOrNull()
            assertTrue(failure is UploadFailedException, "got $failure")
            assertEquals("Forbidden.RAM", (failure as UploadFailedException).code)
        }
    }

    @Test
    fun `awaitAllDone returns at once for a finished queue and after the last file otherwise`() = runBlocking {
        withTimeout(WAIT_MS) {
            uploader.awaitAllDone() // empty queue
            uploader.client.addFile(writeFile(dir, "a.mp4", 150 * KIB))
            uploader.client.addFile(writeFile(dir, "b.mp4", 150 * KIB))
            val all = async(start = CoroutineStart.UNDISPATCHED) { uploader.awaitAllDone() }
            uploader.client.start()
            all.await()
            assertTrue(uploader.client.listFiles().all { it.status == FileStatus.SUCCEEDED })
        }
    }

    @Test
    fun `cancelling the coroutine cancels the file and keeps its parts`() = runBlocking {
        withTimeout(WAIT_MS) {
            sim.throttle(200 * KIB)
            val started = async(start = CoroutineStart.UNDISPATCHED) {
                uploader.events.first { it is UploadEvent.Progress && it.uploaded > 0L }
            }
            val job = launch { uploader.upload(writeFile(dir, "cancel.mp4", 900 * KIB)) }
            val id = started.await().fileId!!
            job.cancelAndJoin()
            assertEquals(FileStatus.CANCELED, uploader.client.file(id)?.status)

            sim.throttle(null)
            uploader.client.resumeFile(id)
            uploader.awaitAllDone()
            assertEquals(FileStatus.SUCCEEDED, uploader.client.file(id)?.status)
            assertEquals(1, sim.stat("multipart_uploads_initiated"), "keepUpload: resumed, not restarted")
        }
    }
}
