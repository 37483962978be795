package dev.vodupload.sample.core

import dev.vodupload.FileInfo
import dev.vodupload.FileStatus
import dev.vodupload.UploadEvent
import dev.vodupload.UploadResult
import dev.vodupload.UploadTarget
import dev.vodupload.VodInfo
import dev.vodupload.WaitingReason
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.time.Instant

class UploadScreenStateTest {
    private fun file(id: String, status: FileStatus = FileStatus.UPLOADING) = FileInfo(
        id = id, path = "/data/$id.mp4", target = UploadTarget.Video, vodInfo = VodInfo(), status = status,
        waiting = null, bytesUploaded = 0L, bytesTotal = 100L, endpoint = null, bucket = null, objectKey = null,
        videoId = null, imageUrl = null, lastError = null, crc64 = null, addedAt = Instant.EPOCH,
    )

    private val result = UploadResult("vid-1", null, "http://oss", "bucket", "key", 100L, "42")

    @Test
    fun `a full upload goes from uploading through waiting and pause to succeeded`() {
        var s = UploadScreenState().picked("a", "clip.mp4")
        assertTrue(s.canPause && !s.canPick)
        s = s.reduce(UploadEvent.Started(file("a")))
        s = s.reduce(UploadEvent.Progress("a", 30L, 100L))
        assertEquals(30, s.percent)
        s = s.reduce(UploadEvent.Waiting(file("a"), WaitingReason.Network))
        assertEquals(UploadScreenState.Phase.WAITING, s.phase)
        assertEquals("Waiting for Wi-Fi", s.message)
        s = s.reduce(UploadEvent.Progress("a", 20L, 100L)) // never goes back
        assertEquals(30, s.percent)
        assertEquals(UploadScreenState.Phase.UPLOADING, s.phase)
        assertNull(s.message)
        s = s.reduce(UploadEvent.Waiting(file("a"), WaitingReason.Paused))
        assertTrue(s.canResume && !s.canPause)
        s = s.resumed()
        s = s.reduce(UploadEvent.Succeeded(file("a", FileStatus.SUCCEEDED), result))
        assertEquals(UploadScreenState.Phase.SUCCEEDED, s.phase)
        assertEquals(100, s.percent)
        assertEquals("vid-1", s.videoId)
        assertTrue(s.canPick)
    }

    @Test
    fun `events of other files and all-done leave the screen alone`() {
        val s = UploadScreenState().picked("a", "clip.mp4")
        assertEquals(s, s.reduce(UploadEvent.Progress("b", 50L, 100L)))
        assertEquals(s, s.reduce(UploadEvent.AllDone))
    }

    @Test
    fun `a failure shows the code and allows a new pick`() {
        val s = UploadScreenState().picked("a", "clip.mp4").reduce(UploadEvent.Failed(file("a"), "AccessDenied", "no"))
        assertEquals(UploadScreenState.Phase.FAILED, s.phase)
        assertEquals("AccessDenied: no", s.message)
        assertTrue(s.canPick)
        assertFalse(s.canResume)
    }

    @Test
    fun `the service stays in the foreground while a file is unfinished`() {
        assertTrue(UploadSession.needsForeground(listOf(file("a", FileStatus.SUCCEEDED), file("b", FileStatus.WAITING))))
        assertFalse(UploadSession.needsForeground(listOf(file("a", FileStatus.SUCCEEDED), file("b", FileStatus.CANCELED))))
    }
}
