package dev.vodupload.sample.core

import dev.vodupload.NetworkState
import dev.vodupload.NetworkType

/**
 * What Android's `NetworkCapabilities` says about the default network, without Android
 * classes (so the mapping is tested on the JVM). `NetworkMonitor` fills it from
 * `hasTransport(TRANSPORT_*)` and `hasCapability(NET_CAPABILITY_*)`.
 */
data class NetworkFacts(
    val wifi: Boolean = false,
    val cellular: Boolean = false,
    val ethernet: Boolean = false,
    /** `NET_CAPABILITY_NOT_METERED`. */
    val notMetered: Boolean = false,
    /** `NET_CAPABILITY_NOT_ROAMING`. */
    val notRoaming: Boolean = true,
    /** `NET_CAPABILITY_VALIDATED`: internet access checked (false behind a captive portal). */
    val validated: Boolean = false,
)

/**
 * The engine's view of a network: `null` facts mean no default network at all. A network
 * with several transports (a VPN over Wi-Fi reports both) counts as its cheapest; one with
 * none we know (Bluetooth tethering, a VPN alone) is `UNKNOWN`, which the engine treats by
 * its metered flag under `UnmeteredOnly` and as allowed otherwise.
 */
fun NetworkFacts?.toNetworkState(): NetworkState {
    if (this == null) return NetworkState(networkType = NetworkType.OFFLINE, validated = false)
    val type = when {
        wifi -> NetworkType.WIFI
        ethernet -> NetworkType.ETHERNET
        cellular -> NetworkType.CELLULAR
        else -> NetworkType.UNKNOWN
    }
    return NetworkState(networkType = type, metered = !notMetered, roaming = !notRoaming, validated = validated)
}
