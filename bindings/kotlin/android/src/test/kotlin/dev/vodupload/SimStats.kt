package dev.vodupload

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.concurrent.TimeUnit

/** The counters of vod-sim's `GET /_sim/stats` that the network tests compare. */
data class SimStats(val requests: Long, val adminRequests: Long, val uploadParts: Long, val bytesReceived: Long) {
    /** Requests the client made (the test's own admin calls left out). */
    val clientRequests: Long get() = requests - adminRequests

    companion object {
        private val http = HttpClient.newHttpClient()

        fun of(sim: Sim): SimStats {
            val body = http.send(
                HttpRequest.newBuilder(URI.create(sim.vodEndpoint + "/_sim/stats")).GET().build(),
                HttpResponse.BodyHandlers.ofString(),
            ).body()
            fun n(name: String) = Regex("\"$name\":(\\d+)").find(body)?.groupValues?.get(1)?.toLong() ?: 0L
            return SimStats(n("requests"), n("Admin"), n("UploadPart"), n("bytes_received"))
        }
    }
}

/** Polls [condition] until it holds, for at most [WAIT_MS]: for state outside the event stream. */
fun waitUntil(what: String, condition: () -> Boolean) {
    val deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS)
    while (!condition()) {
        if (System.nanoTime() > deadline) throw AssertionError("timed out waiting for $what")
        Thread.sleep(20)
    }
}
