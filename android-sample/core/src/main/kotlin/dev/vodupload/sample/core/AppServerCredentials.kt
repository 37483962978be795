package dev.vodupload.sample.core

import dev.vodupload.CallbackException
import dev.vodupload.CredentialProvider
import dev.vodupload.CredentialRequest
import dev.vodupload.ProvidedCredentials
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import java.net.HttpURLConnection
import java.net.URI
import java.time.Instant

/**
 * Mode 2 credentials from the app's own server: `POST {url}` answers the STS token of an
 * AssumeRole call as JSON, `{"AccessKeyId","AccessKeySecret","SecurityToken","Expiration"}`
 * (Expiration in ISO-8601 UTC). The library asks before the token expires, so uploads never
 * pause for `tokenExpired`. Android-free: `HttpURLConnection` exists on both platforms.
 */
class AppServerCredentials(private val url: String) : CredentialProvider {
    override suspend fun fetchCredentials(request: CredentialRequest): ProvidedCredentials =
        withContext(Dispatchers.IO) {
            val connection = URI.create(url).toURL().openConnection() as HttpURLConnection
            try {
                connection.requestMethod = "POST"
                connection.connectTimeout = 15_000
                connection.readTimeout = 15_000
                if (connection.responseCode != 200) {
                    throw CallbackException.Unavailable("credential server answered ${connection.responseCode}")
                }
                parseStsToken(connection.inputStream.bufferedReader().use { it.readText() })
            } finally {
                connection.disconnect()
            }
        }

    companion object {
        /** The STS token in an AssumeRole-style JSON document (flat string members). */
        fun parseStsToken(json: String): ProvidedCredentials {
            val fields = Regex("\"(\\w+)\"\\s*:\\s*\"([^\"]*)\"").findAll(json)
                .associate { it.groupValues[1] to it.groupValues[2] }
            fun field(name: String) = fields[name] ?: throw CallbackException.Unavailable("credential server sent no $name")
            return ProvidedCredentials.StsToken(
                accessKeyId = field("AccessKeyId"),
                accessKeySecret = field("AccessKeySecret"),
                securityToken = field("SecurityToken"),
                expiration = fields["Expiration"]?.let(Instant::parse),
            )
        }
    }
}
