package dev.vodupload

import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class PipelineTest {
    @Test
    fun `generated bindings load the host library`() {
        assertTrue(coreVersion().startsWith("vod-upload "), coreVersion())
    }
}
