package dev.vodupload

/**
 * Builds a [ClientConfig] from Java, where the generated constructor has no default arguments
 * and so takes every field. Unset fields stay `null`: the engine's default.
 *
 * ```java
 * ClientConfig config = new ClientConfigBuilder().vodEndpoint(url).partSize(1 << 20).build();
 * ```
 */
class ClientConfigBuilder {
    private var config = ClientConfig()

    fun databasePath(path: String?) = apply { config = config.copy(databasePath = path) }
    fun partSize(bytes: Long) = apply { config = config.copy(partSize = bytes) }
    fun parallelParts(parts: Int) = apply { config = config.copy(parallelParts = parts) }
    fun maxParallelFiles(files: Int) = apply { config = config.copy(maxParallelFiles = files) }
    /** The JS SDK's `retryCount`: retries of one request before the file fails. */
    fun retryCount(retries: Int) = apply { config = config.copy(retryCount = retries) }
    /** The JS SDK's `retryDuration`: a fixed wait between retries (no back-off). */
    fun retryDurationMs(ms: Long) = apply { config = config.copy(retryDurationMs = ms) }
    fun retryBaseIntervalMs(ms: Long) = apply { config = config.copy(retryBaseIntervalMs = ms) }
    fun retryMaxIntervalMs(ms: Long) = apply { config = config.copy(retryMaxIntervalMs = ms) }
    fun retryTimeBudgetMs(ms: Long) = apply { config = config.copy(retryTimeBudgetMs = ms) }
    fun connectTimeoutMs(ms: Long) = apply { config = config.copy(connectTimeoutMs = ms) }
    fun requestTimeoutMs(ms: Long) = apply { config = config.copy(requestTimeoutMs = ms) }
    fun stallTimeoutMs(ms: Long) = apply { config = config.copy(stallTimeoutMs = ms) }
    fun region(region: String?) = apply { config = config.copy(region = region) }
    fun vodEndpoint(endpoint: String?) = apply { config = config.copy(vodEndpoint = endpoint) }
    fun signatureVersion(version: SignatureVersion?) = apply { config = config.copy(signatureVersion = version) }
    fun networkPolicy(policy: NetworkPolicy?) = apply { config = config.copy(networkPolicy = policy) }
    fun allowHttp(allow: Boolean) = apply { config = config.copy(allowHttp = allow) }
    fun extraRootCertificates(pems: List<String>?) = apply { config = config.copy(extraRootCertificates = pems) }
    fun putObjectThreshold(bytes: Long) = apply { config = config.copy(putObjectThreshold = bytes) }
    fun refreshAheadMs(ms: Long) = apply { config = config.copy(refreshAheadMs = ms) }
    fun progressIntervalMs(ms: Long) = apply { config = config.copy(progressIntervalMs = ms) }
    fun workerThreads(threads: Int) = apply { config = config.copy(workerThreads = threads) }
    fun credentialTimeoutMs(ms: Long) = apply { config = config.copy(credentialTimeoutMs = ms) }
    fun keepSucceededMs(ms: Long) = apply { config = config.copy(keepSucceededMs = ms) }
    fun measureMedia(measure: Boolean) = apply { config = config.copy(measureMedia = measure) }

    fun build(): ClientConfig = config
}

/** Builds a [VodInfo] (the video's metadata) from Java; unset fields are left to VOD. */
class VodInfoBuilder {
    private var info = VodInfo()

    fun title(title: String?) = apply { info = info.copy(title = title) }
    fun description(description: String?) = apply { info = info.copy(description = description) }
    fun cateId(cateId: Long) = apply { info = info.copy(cateId = cateId) }
    fun tags(tags: List<String>) = apply { info = info.copy(tags = tags) }
    fun coverUrl(url: String?) = apply { info = info.copy(coverUrl = url) }
    fun userData(json: String?) = apply { info = info.copy(userData = json) }
    fun templateGroupId(id: String?) = apply { info = info.copy(templateGroupId = id) }
    fun storageLocation(location: String?) = apply { info = info.copy(storageLocation = location) }
    fun workflowId(id: String?) = apply { info = info.copy(workflowId = id) }
    fun appId(id: String?) = apply { info = info.copy(appId = id) }
    fun isProcess(process: Boolean) = apply { info = info.copy(isProcess = process) }
    fun isShowWatermark(show: Boolean) = apply { info = info.copy(isShowWatermark = show) }
    fun priority(priority: Int) = apply { info = info.copy(priority = priority) }

    fun build(): VodInfo = info
}
