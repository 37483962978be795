package dev.vodupload

import android.Manifest
import android.content.Context
import android.content.pm.PackageManager
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import android.os.Build
import android.telephony.TelephonyManager
import android.util.Log

/** The generation of a cellular network, when the app may know it (see [AndroidNetwork]). */
enum class CellularGeneration { G2, G3, G4, G5 }

/**
 * What Android says about the default network, mapped for the library: [toNetworkState] is
 * what the client is told. [cellularGeneration] is only known to apps holding
 * `READ_PHONE_STATE` (the telephony API asks for it) and is `null` otherwise; the engine does
 * not need it, it is here for the app's own decisions and UI.
 */
data class AndroidNetwork(
    val type: NetworkType,
    val cellularGeneration: CellularGeneration? = null,
    val metered: Boolean = false,
    val roaming: Boolean = false,
    val validated: Boolean = true,
    /** Data for this app is blocked (Data Saver, background restrictions): as good as offline. */
    val blocked: Boolean = false,
) {
    fun toNetworkState(): NetworkState =
        if (blocked || type == NetworkType.OFFLINE) {
            NetworkState(networkType = NetworkType.OFFLINE, metered = false, roaming = false, validated = false)
        } else {
            NetworkState(networkType = type, metered = metered, roaming = roaming, validated = validated)
        }

    companion object {
        @JvmField
        val OFFLINE = AndroidNetwork(NetworkType.OFFLINE, validated = false)

        /**
         * Maps one network's capabilities. A network with several transports (a VPN over Wi-Fi
         * reports both) counts as its cheapest; one with none we know (Bluetooth tethering, a
         * VPN alone) is `UNKNOWN`, which the engine judges by its metered flag.
         */
        @JvmStatic
        @JvmOverloads
        fun from(caps: NetworkCapabilities, generation: CellularGeneration? = null, blocked: Boolean = false): AndroidNetwork {
            val type = when {
                caps.hasTransport(NetworkCapabilities.TRANSPORT_WIFI) -> NetworkType.WIFI
                caps.hasTransport(NetworkCapabilities.TRANSPORT_ETHERNET) -> NetworkType.ETHERNET
                caps.hasTransport(NetworkCapabilities.TRANSPORT_CELLULAR) -> NetworkType.CELLULAR
                else -> NetworkType.UNKNOWN
            }
            // A carrier may lift metering for a while (5G plans): unmetered for that time.
            val unmetered = caps.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED) ||
                (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R &&
                    caps.hasCapability(NetworkCapabilities.NET_CAPABILITY_TEMPORARILY_NOT_METERED))
            return AndroidNetwork(
                type = type,
                cellularGeneration = generation.takeIf { type == NetworkType.CELLULAR },
                metered = !unmetered,
                roaming = !caps.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_ROAMING),
                validated = caps.hasCapability(NetworkCapabilities.NET_CAPABILITY_VALIDATED),
                blocked = blocked,
            )
        }

        /** `TelephonyManager.NETWORK_TYPE_*` as a generation; `null` when unknown. */
        @JvmStatic
        fun generationOf(telephonyNetworkType: Int): CellularGeneration? = when (telephonyNetworkType) {
            TelephonyManager.NETWORK_TYPE_GPRS, TelephonyManager.NETWORK_TYPE_EDGE, TelephonyManager.NETWORK_TYPE_CDMA,
            TelephonyManager.NETWORK_TYPE_1xRTT, TelephonyManager.NETWORK_TYPE_IDEN, TelephonyManager.NETWORK_TYPE_GSM,
            -> CellularGeneration.G2
            TelephonyManager.NETWORK_TYPE_UMTS, TelephonyManager.NETWORK_TYPE_EVDO_0, TelephonyManager.NETWORK_TYPE_EVDO_A,
            TelephonyManager.NETWORK_TYPE_EVDO_B, TelephonyManager.NETWORK_TYPE_HSDPA, TelephonyManager.NETWORK_TYPE_HSUPA,
            TelephonyManager.NETWORK_TYPE_HSPA, TelephonyManager.NETWORK_TYPE_EHRPD, TelephonyManager.NETWORK_TYPE_HSPAP,
            TelephonyManager.NETWORK_TYPE_TD_SCDMA,
            -> CellularGeneration.G3
            TelephonyManager.NETWORK_TYPE_LTE, TelephonyManager.NETWORK_TYPE_IWLAN -> CellularGeneration.G4
            TelephonyManager.NETWORK_TYPE_NR -> CellularGeneration.G5
            else -> null
        }
    }
}

/**
 * Follows the default network with a `ConnectivityManager` default-network callback and tells
 * [client] about every change (`setNetworkState`), so the client's network policy (Wi-Fi only
 * by default) applies at once: a move to cellular stops sending bytes, the move back resumes
 * by itself. [listener], if any, hears the same changes (on the connectivity thread).
 *
 * [VodUploadAndroid.createUploader] starts one with the client and stops it when the uploader
 * closes; use this class directly for a client of your own. Needs
 * `android.permission.ACCESS_NETWORK_STATE` (in the library's manifest).
 */
class AndroidNetworkMonitor @JvmOverloads constructor(
    context: Context,
    private val client: VodUploadClient,
    private val listener: Listener? = null,
) : AutoCloseable {
    fun interface Listener {
        fun onNetworkChanged(network: AndroidNetwork)
    }

    private val context: Context = context.applicationContext ?: context
    private val connectivity = this.context.getSystemService(ConnectivityManager::class.java)
        ?: throw IllegalStateException("no ConnectivityManager")
    private val lock = Any()
    private var registered = false

    // The default network as the callback last described it. The callback reports only the
    // default network, but an onLost for the previous one can arrive after its successor's
    // onAvailable, so losses are matched against it.
    private var network: Network? = null
    private var caps: NetworkCapabilities? = null
    private var blocked = false

    /** What was last reported to the client; `null` before [start]. */
    @Volatile
    var current: AndroidNetwork? = null
        private set

    private val callback = object : ConnectivityManager.NetworkCallback() {
        override fun onCapabilitiesChanged(network: Network, networkCapabilities: NetworkCapabilities) {
            synchronized(lock) {
                if (network != this@AndroidNetworkMonitor.network) blocked = false
                this@AndroidNetworkMonitor.network = network
                caps = networkCapabilities
                publishLocked()
            }
        }

        // API 29+; never called on older systems, which have no such notion.
        override fun onBlockedStatusChanged(network: Network, blocked: Boolean) {
            synchronized(lock) {
                if (network != this@AndroidNetworkMonitor.network) return
                this@AndroidNetworkMonitor.blocked = blocked
                publishLocked()
            }
        }

        override fun onLost(network: Network) {
            synchronized(lock) {
                if (network != this@AndroidNetworkMonitor.network) return
                this@AndroidNetworkMonitor.network = null
                caps = null
                blocked = false
                publishLocked()
            }
        }
    }

    /** Reports the current default network, then every change. A second call does nothing. */
    fun start() {
        synchronized(lock) {
            if (registered) return
            // The callback reports the current default network soon after registering, but not
            // at all when there is none: state it now, so "offline at start" is known too.
            network = connectivity.activeNetwork
            caps = network?.let(connectivity::getNetworkCapabilities)
            if (caps == null) network = null
            blocked = false
            publishLocked()
            connectivity.registerDefaultNetworkCallback(callback)
            registered = true
        }
    }

    /** Stops following the network; the client keeps the last state it was told. */
    fun stop() {
        synchronized(lock) {
            if (!registered) return
            registered = false
            runCatching { connectivity.unregisterNetworkCallback(callback) }
        }
    }

    override fun close() = stop()

    private fun publishLocked() {
        val now = caps?.let { AndroidNetwork.from(it, if (hasTransportCellular(it)) generation() else null, blocked) }
            ?: AndroidNetwork.OFFLINE
        current = now
        try {
            client.setNetworkState(now.toNetworkState())
        } catch (e: VodUploadException) {
            // The client was shut down under us: nothing left to follow the network for.
            Log.i(TAG, "client closed, network monitor stops: ${e.message}")
            if (registered) {
                registered = false
                runCatching { connectivity.unregisterNetworkCallback(callback) }
            }
            return
        }
        listener?.let { l -> runCatching { l.onNetworkChanged(now) }.onFailure { Log.w(TAG, "network listener threw", it) } }
    }

    private fun hasTransportCellular(caps: NetworkCapabilities) = caps.hasTransport(NetworkCapabilities.TRANSPORT_CELLULAR)

    /** Only with READ_PHONE_STATE, which the library does not ask for: apps that hold it get it. */
    private fun generation(): CellularGeneration? {
        if (context.checkSelfPermission(Manifest.permission.READ_PHONE_STATE) != PackageManager.PERMISSION_GRANTED) return null
        val telephony = context.getSystemService(TelephonyManager::class.java) ?: return null
        return try {
            AndroidNetwork.generationOf(telephony.dataNetworkType)
        } catch (e: SecurityException) {
            null
        }
    }

    private companion object {
        const val TAG = "vod-upload"
    }
}
