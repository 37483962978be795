package dev.vodupload

import kotlinx.coroutines.delay
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit

/** The generated bindings on the JVM, against vod-sim: the native SDK's flows. */
class ClientTest {
    @TempDir
    lateinit var dir: Path
    private lateinit var sim: Sim
    private val closeLater = mutableListOf<AutoCloseable>()

    @BeforeEach
    fun startSim() {
        sim = Sim()
    }

    @AfterEach
    fun stopAll() {
        closeLater.reversed().forEach { it.close() }
        sim.close()
    }

    /** A mode 2 client (the simulator's account key) with [listener]. */
    private fun client(listener: UploadListener, config: ClientConfig = testConfig(sim, dir)): VodUploadClient {
        val client = VodUploadClient(config)
        closeLater.add(client)
        client.setListener(listener)
        client.setStsToken(sim.accessKeyId, sim.accessKeySecret)
        return client
    }

    @Test
    fun `queue uploads every file in order with callbacks on background threads`() {
        val rec = Recorder()
        val client = client(rec)
        val paths = listOf(
            writeFile(dir, "small.mp4", 50 * KIB), // one PutObject
            writeFile(dir, "big.mp4", 450 * KIB), // multipart, 5 parts
            writeFile(dir, "cover.png", 120 * KIB), // CreateUploadImage
        )
        val ids = paths.mapIndexed { i, p -> client.addFile(p, VodInfo(title = "t$i")) }
        assertEquals(ids, client.listFiles().map { it.id })
        assertEquals(ClientStatus.IDLE, client.status())

        client.start()
        rec.waitEvent<UploadEvent.AllDone>()

        val events = rec.snapshot()
        assertFalse(Thread.currentThread() in rec.threads, "callbacks come from library threads")
        for ((id, path) in ids.zip(paths)) {
            val size = java.io.File(path).length().toLong()
            val ok = events.filterIsInstance<UploadEvent.Succeeded>().single { it.fileId == id }
            assertEquals(size, ok.result.bytes)
            assertEquals(ok.result.crc64, ok.file.crc64)
            val steps = events.filterIsInstance<UploadEvent.Progress>().filter { it.fileId == id }
            assertEquals(size, steps.last().uploaded)
            assertTrue(steps.zipWithNext().all { (a, b) -> a.uploaded <= b.uploaded }, "monotonic progress")
        }
        val video = events.filterIsInstance<UploadEvent.Succeeded>().single { it.fileId == ids[1] }.result
        assertNotNull(video.videoId)
        assertNotNull(events.filterIsInstance<UploadEvent.Succeeded>().single { it.fileId == ids[2] }.result.imageUrl)
        assertEquals(ids, events.filterIsInstance<UploadEvent.Started>().map { it.fileId }, "one at a time, in order")
        assertTrue(client.listFiles().all { it.status == FileStatus.SUCCEEDED })
        assertEquals(2, sim.stat("multipart_uploads_completed"))
    }

    @Test
    fun `pause and resume continue the same multipart upload`() {
        val rec = Recorder()
        val client = client(rec)
        sim.throttle(400 * KIB)
        val id = client.addFile(writeFile(dir, "long.mp4", 1200 * KIB))
        client.start()
        rec.waitProgress()

        client.pause()
        assertEquals(ClientStatus.PAUSED, client.status())
        val waiting = rec.waitEvent<UploadEvent.Waiting>(id)
        assertEquals(WaitingReason.Paused, waiting.reason)
        assertEquals(FileStatus.PAUSED, client.file(id)?.status)

        sim.throttle(null)
        client.resume()
        assertEquals((1200 * KIB).toLong(), rec.waitEvent<UploadEvent.Succeeded>(id).result.bytes)
        assertEquals(1, sim.stat("multipart_uploads_initiated"), "resumed, not restarted")
        assertEquals(0, rec.count<UploadEvent.Failed>())
    }

    @Test
    fun `a switch to cellular pauses under wifi-only and wifi resumes`() {
        val rec = Recorder()
        val client = client(rec)
        client.setNetworkPolicy(NetworkPolicy.WifiOnly)
        sim.throttle(300 * KIB)
        val id = client.addFile(writeFile(dir, "net.mp4", 900 * KIB))
        client.start()
        rec.waitProgress()

        val mark = rec.snapshot().size
        client.setNetworkState(NetworkState(networkType = NetworkType.CELLULAR, metered = true))
        assertEquals(WaitingReason.Network, rec.waitEvent<UploadEvent.Waiting>(id, after = mark).reason)

        sim.throttle(null)
        client.setNetworkState(NetworkState(networkType = NetworkType.WIFI))
        rec.waitEvent<UploadEvent.Succeeded>(id)
        assertEquals(1, sim.stat("multipart_uploads_initiated"))
        assertEquals(0, rec.count<UploadEvent.Failed>() + rec.count<UploadEvent.Retry>(), "a network switch is not a failure")
    }

    @Test
    fun `mode 1 token expiry is answered with resumeWithAuth`() {
        val rec = Recorder()
        val videos = java.util.concurrent.ConcurrentHashMap<String, String>()
        val client = VodUploadClient(testConfig(sim, dir)).also { closeLater.add(it) }
        // The app: on `started`, its server creates the video; on expiry, it refreshes it.
        client.setListener(object : Recorder() {
            override fun started(file: FileInfo) {
                val v = sim.createUploadVideo(java.io.File(file.path).name)
                videos[file.id] = v.videoId
                client.setUploadAuthAndAddress(file.id, v.uploadAuth, v.uploadAddress, v.videoId)
                rec.started(file)
            }

            override fun progress(fileId: String, uploaded: Long, total: Long) = rec.progress(fileId, uploaded, total)
            override fun tokenExpired(file: FileInfo) = rec.tokenExpired(file)
            override fun succeeded(file: FileInfo, result: UploadResult) = rec.succeeded(file, result)
            override fun failed(file: FileInfo, code: String, message: String) = rec.failed(file, code, message)
        })
        sim.throttle(300 * KIB)
        val id = client.addFile(writeFile(dir, "mode1.mp4", 900 * KIB))
        client.start()
        rec.waitProgress()

        assertTrue(sim.expireTokens() >= 1)
        val expired = rec.waitEvent<UploadEvent.TokenExpired>(id)
        assertEquals(videos[id], expired.file.videoId)

        sim.throttle(null)
        client.resumeWithAuth(sim.refreshUploadVideo(videos.getValue(id)))
        assertEquals(videos[id], rec.waitEvent<UploadEvent.Succeeded>(id).result.videoId)
        assertEquals(1, sim.stat("multipart_uploads_initiated"), "the same multipart upload continued")
        assertEquals(0, rec.count<UploadEvent.Failed>())
    }

    @Test
    fun `a listener that throws never stops the uploads`() {
        val calls = CopyOnWriteArrayList<String>()
        val allDone = java.util.concurrent.LinkedBlockingQueue<Unit>()
        val throwing = object : UploadListener {
            fun boom(name: String): Nothing {
                calls.add(name)
                throw IllegalStateException("listener bug in $name")
            }

            override fun started(file: FileInfo) = boom("started")
            override fun progress(fileId: String, uploaded: Long, total: Long) = boom("progress")
            override fun succeeded(file: FileInfo, result: UploadResult) = boom("succeeded")
            override fun failed(file: FileInfo, code: String, message: String) = boom("failed")
            override fun canceled(file: FileInfo, deleted: Boolean) = boom("canceled")
            override fun tokenExpired(file: FileInfo) = boom("tokenExpired")
            override fun retry(file: FileInfo, code: String, message: String) = boom("retry")
            override fun retryResume(file: FileInfo) = boom("retryResume")
            override fun waiting(file: FileInfo, reason: WaitingReason) = boom("waiting")
            override fun allDone() {
                allDone.put(Unit)
                boom("allDone")
            }
        }
        val client = client(throwing)
        val first = client.addFile(writeFile(dir, "a.mp4", 250 * KIB))
        client.start()
        assertNotNull(allDone.poll(WAIT_MS, TimeUnit.MILLISECONDS), "events kept coming after the listener threw")
        assertEquals(FileStatus.SUCCEEDED, client.file(first)?.status)
        assertTrue("succeeded" in calls && "progress" in calls)

        // Still fully usable.
        val second = client.addFile(writeFile(dir, "b.mp4", 150 * KIB))
        assertNotNull(allDone.poll(WAIT_MS, TimeUnit.MILLISECONDS))
        assertEquals(FileStatus.SUCCEEDED, client.file(second)?.status)
    }

    @Test
    fun `a suspend credential provider renews without a pause`() {
        val reasons = CopyOnWriteArrayList<CredentialReason>()
        val provider = object : CredentialProvider {
            override suspend fun fetchCredentials(request: CredentialRequest): ProvidedCredentials {
                reasons.add(request.reason)
                delay(1) // a real app awaits its server here
                val videoId = request.videoId
                return if (videoId != null) {
                    ProvidedCredentials.UploadAuth(sim.refreshUploadVideo(videoId), null, null)
                } else {
                    val v = sim.createUploadVideo("provided.mp4")
                    ProvidedCredentials.UploadAuth(v.uploadAuth, v.uploadAddress, v.videoId)
                }
            }
        }
        val rec = Recorder()
        val client = VodUploadClient(testConfig(sim, dir)).also { closeLater.add(it) }
        client.setListener(rec)
        client.setCredentialProvider(provider)
        sim.throttle(300 * KIB)
        val id = client.addFile(writeFile(dir, "provided.mp4", 900 * KIB))
        client.start()
        rec.waitProgress()
        sim.expireTokens()
        sim.throttle(null)
        rec.waitEvent<UploadEvent.Succeeded>(id)

        assertEquals(CredentialReason.INITIAL, reasons.first())
        assertTrue(CredentialReason.EXPIRED in reasons, "provider asked for $reasons")
        assertEquals(0, rec.count<UploadEvent.TokenExpired>())
        assertEquals(1, sim.stat("multipart_uploads_initiated"))
    }

    @Test
    fun `errors are typed and carry what the app needs`() {
        val client = client(Recorder())
        val missing = assertThrows<VodUploadException.FileNotFound> { client.addFile(dir.resolve("missing.mp4").toString()) }
        assertTrue(missing.path.endsWith("missing.mp4"))
        val id = client.addFile(writeFile(dir, "x.mp4", 10 * KIB))
        assertThrows<VodUploadException.Credentials> { client.setUploadAuthAndAddress(id, "not base64!", "nope") }
        assertThrows<VodUploadException.InvalidArgument> { VodUploadClient(ClientConfig(partSize = 1L)) }

        client.shutdown()
        client.shutdown()
        assertThrows<VodUploadException.Closed> { client.addFile(writeFile(dir, "late.mp4", KIB)) }
    }

    @Test
    fun `calls that do not apply return normally`() {
        val rec = Recorder()
        val client = client(rec)
        client.pause()
        client.resume()
        client.stop()
        client.deleteFile("no-such-id")
        client.cancelFile("no-such-id")
        client.cancelFileAt(7)
        client.resumeFileAt(-1)
        sim.throttle(300 * KIB)
        val id = client.addFile(writeFile(dir, "twice.mp4", 600 * KIB))
        client.start()
        client.start()
        client.resumeFile(id)
        rec.waitProgress()
        client.pause()
        client.pause()
        client.resume()
        client.resume()
        sim.throttle(null)
        rec.waitEvent<UploadEvent.Succeeded>(id)
        client.cancelFile(id)
        assertEquals(FileStatus.SUCCEEDED, client.file(id)?.status, "cancelling a finished file changes nothing")
        client.shutdown()
        client.start()
        client.pause()
    }

    @Test
    fun `pause then stop then start completes the file`() {
        val rec = Recorder()
        val client = client(rec)
        sim.throttle(300 * KIB)
        val id = client.addFile(writeFile(dir, "pss.mp4", 900 * KIB))
        client.start()
        rec.waitProgress()
        client.pause()
        client.stop()
        assertEquals(FileStatus.READY, client.file(id)?.status)
        sim.throttle(null)
        client.start()
        rec.waitEvent<UploadEvent.Succeeded>(id)
        rec.waitEvent<UploadEvent.AllDone>()
        assertEquals(1, sim.stat("multipart_uploads_initiated"), "the same multipart upload continued")
    }

    @Test
    fun `cancel and delete end with a canceled event`() {
        val rec = Recorder()
        val client = client(rec)
        sim.throttle(300 * KIB)
        val a = client.addFile(writeFile(dir, "cancel.mp4", 900 * KIB))
        val b = client.addFile(writeFile(dir, "delete.mp4", 900 * KIB))
        client.start()
        rec.waitProgress()
        client.cancelFile(a)
        assertEquals(false, rec.waitEvent<UploadEvent.Canceled>(a).deleted)
        client.deleteFile(b)
        assertEquals(true, rec.waitEvent<UploadEvent.Canceled>(b).deleted)
        rec.waitEvent<UploadEvent.AllDone>()
        assertEquals(0, rec.count<UploadEvent.Succeeded>() + rec.count<UploadEvent.Failed>())
    }

    @Test
    fun `mode 1 continues the same video and multipart upload after a restart`() {
        val config = testConfig(sim, dir)
        var videoId = ""
        val id = VodUploadClient(config).use { first ->
            val rec = Recorder()
            first.setListener(object : Recorder() {
                override fun started(file: FileInfo) {
                    val v = sim.createUploadVideo(java.io.File(file.path).name)
                    videoId = v.videoId
                    first.setUploadAuthAndAddress(file.id, v.uploadAuth, v.uploadAddress, v.videoId)
                }

                override fun progress(fileId: String, uploaded: Long, total: Long) = rec.progress(fileId, uploaded, total)
            })
            sim.throttle(300 * KIB)
            val id = first.addFile(writeFile(dir, "mode1-restart.mp4", 900 * KIB))
            first.start()
            rec.waitFor("confirmed bytes") { (first.file(id)?.bytesUploaded ?: 0L).takeIf { it > 0L } }
            id
        }
        sim.throttle(null)
        val again = Recorder()
        val second = VodUploadClient(config).also { closeLater.add(it) }
        assertEquals(videoId, second.file(id)?.videoId, "the video id survives the restart")
        second.setListener(object : Recorder() {
            override fun started(file: FileInfo) {
                again.started(file)
                // The app server refreshes the credentials of the video the file already has.
                second.resumeWithAuth(sim.refreshUploadVideo(file.videoId!!))
            }

            override fun succeeded(file: FileInfo, result: UploadResult) = again.succeeded(file, result)
            override fun failed(file: FileInfo, code: String, message: String) = again.failed(file, code, message)
        })
        second.start()
        assertEquals(videoId, again.waitEvent<UploadEvent.Started>(id).file.videoId)
        assertEquals(videoId, again.waitEvent<UploadEvent.Succeeded>(id).result.videoId)
        assertEquals(1, sim.stat("multipart_uploads_initiated"), "the same multipart upload continued")
        assertEquals(0, sim.stat("multipart_uploads_in_progress"))
    }

    @Test
    fun `the queue survives a restart`() {
        val config = testConfig(sim, dir)
        val rec = Recorder()
        val id = VodUploadClient(config).use { first ->
            first.setListener(rec)
            first.setStsToken(sim.accessKeyId, sim.accessKeySecret)
            sim.throttle(300 * KIB)
            val id = first.addFile(writeFile(dir, "restart.mp4", 900 * KIB))
            first.start()
            rec.waitFor("confirmed bytes") { (first.file(id)?.bytesUploaded ?: 0L).takeIf { it > 0L } }
            id
        }
        sim.throttle(null)
        val again = Recorder()
        val second = client(again, config)
        val restored = second.file(id)
        assertNotNull(restored)
        assertTrue(restored!!.bytesUploaded > 0L)
        second.start()
        again.waitEvent<UploadEvent.Succeeded>(id)
        assertEquals(1, sim.stat("multipart_uploads_initiated"))
    }

    @Test
    fun `closing a client mid-upload is clean`() {
        val rec = Recorder()
        val client = VodUploadClient(testConfig(sim, dir, databasePath = null))
        client.setListener(rec)
        client.setStsToken(sim.accessKeyId, sim.accessKeySecret)
        sim.throttle(200 * KIB)
        client.addFile(writeFile(dir, "drop.mp4", 900 * KIB))
        client.start()
        rec.waitProgress()
        client.close()
        assertTrue(coreVersion().isNotEmpty())
        VodUploadClient(ClientConfig()).use { assertEquals(emptyList<FileInfo>(), it.listFiles()) }
    }

    @Test
    fun checkpointReadsTheUploadState() {
        val rec = Recorder()
        val client = client(rec)
        sim.throttle(300 * KIB)
        val id = client.addFile(writeFile(dir, "checkpoint.mp4", 900 * KIB))
        assertEquals(null, client.checkpoint(id), "not started")
        client.start()
        // Past two parts in flight (100 KiB each): at least one is confirmed.
        rec.waitFor("a confirmed part") { all ->
            all.filterIsInstance<UploadEvent.Progress>().firstOrNull { it.fileId == id && it.uploaded > 200 * KIB }
        }
        client.pause()
        rec.waitEvent<UploadEvent.Waiting>(id)
        val checkpoint = requireNotNull(client.checkpoint(id)) { "a checkpoint while paused" }
        assertNotNull(checkpoint.uploadId)
        assertTrue(checkpoint.partsDone >= 1, "$checkpoint")
        assertEquals(checkpoint.partsDone * checkpoint.partSize, checkpoint.bytesDone)
        assertEquals((900 * KIB).toLong(), checkpoint.fileSize)
        assertEquals(client.file(id)?.videoId, checkpoint.videoId)
        sim.throttle(null)
        client.resume()
        rec.waitEvent<UploadEvent.Succeeded>(id)
        assertEquals(null, client.checkpoint(id), "finished")
    }

    @Test
    fun vodInfoFromSeedJson() {
        val info = vodInfoFromJson("""{"Vod":{"Title":"test","CateId":"234","UserData":{"Extend":{"k":"v"}}}}""")
        assertEquals("test", info.title)
        assertEquals(234L, info.cateId)
        assertEquals("""{"Extend":{"k":"v"}}""", info.userData)
        // The JS SDK document's own sample has a stray quote: a clear error, not a crash.
        val bad = assertThrows<VodUploadException.InvalidArgument> {
            vodInfoFromJson("""{"Vod":{"Title":"test","CateId":"234"}"}""")
        }
        assertTrue(bad.detail.contains("not JSON"), bad.detail)
        val unknown = assertThrows<VodUploadException.InvalidArgument> { vodInfoFromJson("""{"Vod":{"Titel":"x"}}""") }
        assertTrue(unknown.detail.contains("Titel"), unknown.detail)

        // The parsed info uploads; a cover image takes ImageType.
        val rec = Recorder()
        val client = client(rec)
        val id = client.addFile(writeFile(dir, "seed.mp4", 50 * KIB), info)
        val cover = client.addFile(writeFile(dir, "cover.jpg", 20 * KIB), VodInfo(imageType = ImageType.COVER))
        client.start()
        rec.waitEvent<UploadEvent.Succeeded>(id)
        val image = rec.waitEvent<UploadEvent.Succeeded>(cover).result
        assertTrue(image.objectKey.startsWith("image/cover/"), image.objectKey)
        assertThrows<VodUploadException.InvalidArgument> { client.addFile(writeFile(dir, "notes.txt", KIB)) }
    }

    @Test
    fun `generated bindings load the host library`() {
        assertTrue(coreVersion().startsWith("vod-upload "), coreVersion())
    }
}
