package dev.vodupload.sample.core

import dev.vodupload.CallbackException
import dev.vodupload.ProvidedCredentials
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.time.Instant

class AppServerCredentialsTest {
    @Test
    fun `an AssumeRole document becomes an STS token`() {
        val json = """{"RequestId":"r","Credentials":{"AccessKeyId":"STS.k","AccessKeySecret":"s","SecurityToken":"CAIS","Expiration":"2030-01-02T03:04:05Z"}}"""
        val token = AppServerCredentials.parseStsToken(json) as ProvidedCredentials.StsToken
        assertEquals("STS.k", token.accessKeyId)
        assertEquals("CAIS", token.securityToken)
        assertEquals(Instant.parse("2030-01-02T03:04:05Z"), token.expiration)
    }

    @Test
    fun `a document without a key is refused`() {
        assertThrows<CallbackException.Unavailable> {
            AppServerCredentials.parseStsToken("""{"AccessKeyId":"STS.k"}""")
        }
    }
}
