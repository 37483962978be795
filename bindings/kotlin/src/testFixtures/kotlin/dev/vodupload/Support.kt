package dev.vodupload

import java.io.BufferedReader
import java.io.InputStreamReader
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.security.MessageDigest
import java.time.Instant
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter
import java.util.Base64
import java.util.UUID
import java.util.concurrent.TimeUnit
import java.util.concurrent.locks.ReentrantLock
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec
import kotlin.concurrent.withLock

/** How long a test waits for an event: generous, the 2-core CI machine may be busy. */
const val WAIT_MS = 60_000L
const val KIB = 1024

/**
 * A vod-sim process on a free loopback port (the binary comes from the `vodupload.sim` system
 * property, set by the pom), with its admin API and the app server's side of mode 1.
 */
class Sim : AutoCloseable {
    private val process: Process
    val vodEndpoint: String
    val region: String
    val accessKeyId: String
    val accessKeySecret: String
    private val http = HttpClient.newHttpClient()

    init {
        val binary = System.getProperty("vodupload.sim") ?: error("system property vodupload.sim is not set")
        check(Files.isExecutable(Path.of(binary))) { "vod-sim not found at $binary: run `cargo build --release` first" }
        process = ProcessBuilder(binary).redirectError(ProcessBuilder.Redirect.DISCARD).start()
        val line = BufferedReader(InputStreamReader(process.inputStream)).readLine()
            ?: error("vod-sim exited before printing its endpoints")
        val info = jsonStrings(line)
        vodEndpoint = info.getValue("vod_endpoint")
        region = info.getValue("region")
        accessKeyId = info.getValue("access_key_id")
        accessKeySecret = info.getValue("access_key_secret")
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
    }

    private fun admin(method: String, path: String, body: String? = null): String {
        val request = HttpRequest.newBuilder(URI.create(vodEndpoint + path))
            .method(method, body?.let { HttpRequest.BodyPublishers.ofString(it) } ?: HttpRequest.BodyPublishers.noBody())
            .header("content-type", "application/json")
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "$method $path: ${response.statusCode()} ${response.body()}" }
        return response.body()
    }

    /** A top-level counter of `GET /_sim/stats`. */
    fun stat(name: String): Long =
        Regex("\"$name\":(\\d+)").find(admin("GET", "/_sim/stats"))?.groupValues?.get(1)?.toLong()
            ?: error("no stat $name")

    fun expireTokens(): Int = Regex("\"expired\":(\\d+)").find(admin("POST", "/_sim/expire-tokens"))!!.groupValues[1].toInt()

    /** Replaces the fault rules with [rulesJson] (a JSON array, see vod-sim's faults.rs). */
    fun faults(rulesJson: String) {
        admin("POST", "/_sim/faults", """{"rules":$rulesJson}""")
    }

    /** Limits request bodies to [bytesPerSecond] (null: unlimited). */
    fun throttle(bytesPerSecond: Int?) {
        admin("POST", "/_sim/throttle", """{"bandwidth":${bytesPerSecond ?: "null"},"latency_ms":0}""")
    }

    /** Calls a VOD action signed with the account key (protocol.md §6.3), as an app server does. */
    fun rpc(action: String, params: Map<String, String>): Map<String, String> {
        val query = sortedMapOf(
            "Action" to action,
            "Version" to "2017-03-21",
            "Format" to "JSON",
            "AccessKeyId" to accessKeyId,
            "SignatureMethod" to "HMAC-SHA1",
            "SignatureVersion" to "1.0",
            "SignatureNonce" to UUID.randomUUID().toString(),
            "Timestamp" to DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC).format(Instant.now()),
            "RegionId" to region,
        )
        query.putAll(params)
        val canonical = query.entries.joinToString("&") { "${enc(it.key)}=${enc(it.value)}" }
        val mac = Mac.getInstance("HmacSHA1").apply { init(SecretKeySpec("$accessKeySecret&".toByteArray(), "HmacSHA1")) }
        val signature = Base64.getEncoder().encodeToString(mac.doFinal("GET&%2F&${enc(canonical)}".toByteArray()))
        val request = HttpRequest.newBuilder(URI.create("$vodEndpoint/?$canonical&Signature=${enc(signature)}")).GET().build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "$action: ${response.statusCode()} ${response.body()}" }
        return jsonStrings(response.body())
    }

    data class VideoCredentials(val videoId: String, val uploadAuth: String, val uploadAddress: String)

    fun createUploadVideo(fileName: String): VideoCredentials {
        val r = rpc("CreateUploadVideo", mapOf("Title" to "test", "FileName" to fileName))
        return VideoCredentials(r.getValue("VideoId"), r.getValue("UploadAuth"), r.getValue("UploadAddress"))
    }

    fun refreshUploadVideo(videoId: String): String = rpc("RefreshUploadVideo", mapOf("VideoId" to videoId)).getValue("UploadAuth")

    private fun enc(s: String) =
        URLEncoder.encode(s, Charsets.UTF_8).replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

    companion object {
        /** The string members of a flat JSON object (enough for the simulator's documents). */
        fun jsonStrings(json: String): Map<String, String> =
            Regex("\"([A-Za-z_]+)\"\\s*:\\s*\"([^\"]*)\"").findAll(json).associate { it.groupValues[1] to it.groupValues[2] }
    }
}

/** A file of [size] deterministic pseudo-random bytes. */
fun writeFile(dir: Path, name: String, size: Int): String {
    val block = MessageDigest.getInstance("SHA-256").digest("$name:$size".toByteArray())
    val data = ByteArray(size) { block[it % block.size] }
    val path = dir.resolve(name)
    Files.write(path, data)
    return path.toString()
}

/** A client configuration with small parts and fast retries, against [sim]. */
fun testConfig(sim: Sim, dir: Path, databasePath: String? = dir.resolve("uploads.db").toString()) = ClientConfig(
    databasePath = databasePath,
    allowHttp = true,
    vodEndpoint = sim.vodEndpoint,
    region = sim.region,
    partSize = (100 * KIB).toLong(),
    parallelParts = 2,
    retryBaseIntervalMs = 10L,
    retryMaxIntervalMs = 100L,
    progressIntervalMs = 10L,
)

/** Records events (and the threads they came on); tests wait on conditions, never sleep. */
open class Recorder : UploadListener {
    private val lock = ReentrantLock()
    private val changed = lock.newCondition()
    private val events = mutableListOf<UploadEvent>()
    val threads: MutableSet<Thread> = java.util.Collections.synchronizedSet(mutableSetOf())

    fun record(event: UploadEvent) {
        lock.withLock {
            events.add(event)
            threads.add(Thread.currentThread())
            changed.signalAll()
        }
    }

    fun snapshot(): List<UploadEvent> = lock.withLock { events.toList() }

    /** Waits until [predicate] returns non-null over the events so far, and returns it. */
    fun <T : Any> waitFor(what: String, predicate: (List<UploadEvent>) -> T?): T {
        val deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS)
        lock.withLock {
            while (true) {
                predicate(events)?.let { return it }
                val left = deadline - System.nanoTime()
                if (left <= 0) throw AssertionError("timed out waiting for $what; events: ${events.map { it::class.simpleName }}")
                changed.awaitNanos(left)
            }
        }
    }

    inline fun <reified E : UploadEvent> waitEvent(fileId: String? = null, after: Int = 0): E =
        waitFor("${E::class.simpleName} ${fileId.orEmpty()}") { all ->
            all.drop(after).filterIsInstance<E>().firstOrNull { fileId == null || it.fileId == fileId }
        }

    fun waitProgress(): UploadEvent.Progress =
        waitFor("progress") { all -> all.filterIsInstance<UploadEvent.Progress>().firstOrNull { it.uploaded > 0L } }

    inline fun <reified E : UploadEvent> count(): Int = snapshot().count { it is E }

    override fun started(file: FileInfo) = record(UploadEvent.Started(file))
    override fun progress(fileId: String, uploaded: Long, total: Long) = record(UploadEvent.Progress(fileId, uploaded, total))
    override fun succeeded(file: FileInfo, result: UploadResult) = record(UploadEvent.Succeeded(file, result))
    override fun failed(file: FileInfo, code: String, message: String) = record(UploadEvent.Failed(file, code, message))
    override fun canceled(file: FileInfo, deleted: Boolean) = record(UploadEvent.Canceled(file, deleted))
    override fun tokenExpired(file: FileInfo) = record(UploadEvent.TokenExpired(file))
    override fun retry(file: FileInfo, code: String, message: String) = record(UploadEvent.Retry(file, code, message))
    override fun retryResume(file: FileInfo) = record(UploadEvent.RetryResume(file))
    override fun waiting(file: FileInfo, reason: WaitingReason) = record(UploadEvent.Waiting(file, reason))
    override fun allDone() = record(UploadEvent.AllDone)
}
