package dev.vodupload

import android.app.Application
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import android.net.NetworkCapabilities.NET_CAPABILITY_INTERNET
import android.net.NetworkCapabilities.NET_CAPABILITY_NOT_METERED
import android.net.NetworkCapabilities.NET_CAPABILITY_NOT_ROAMING
import android.net.NetworkCapabilities.NET_CAPABILITY_VALIDATED
import org.robolectric.Shadows.shadowOf
import android.net.NetworkInfo
import org.robolectric.shadows.ShadowNetwork
import org.robolectric.shadows.ShadowNetworkInfo
import org.robolectric.shadows.ShadowNetworkCapabilities

/**
 * Plays the system's part for [AndroidNetworkMonitor]: ShadowConnectivityManager holds the
 * networks and the registered callbacks, and this calls them as ConnectivityService would when
 * the default network changes.
 */
class FakeNetworks(app: Application) {
    private val connectivity = app.getSystemService(ConnectivityManager::class.java)
    private val shadow = shadowOf(connectivity)
    private var nextId = 100

    init {
        // No default network until a test says which one.
        shadow.setDefaultNetworkActive(false)
    }

    val callbacks: Set<ConnectivityManager.NetworkCallback> get() = shadow.networkCallbacks.toSet()

    fun caps(
        vararg transports: Int,
        metered: Boolean = false,
        roaming: Boolean = false,
        validated: Boolean = true,
    ): NetworkCapabilities {
        val caps = ShadowNetworkCapabilities.newInstance()
        val s = shadowOf(caps)
        transports.forEach { s.addTransportType(it) }
        s.addCapability(NET_CAPABILITY_INTERNET)
        if (!metered) s.addCapability(NET_CAPABILITY_NOT_METERED)
        if (!roaming) s.addCapability(NET_CAPABILITY_NOT_ROAMING)
        if (validated) s.addCapability(NET_CAPABILITY_VALIDATED)
        return caps
    }

    fun wifi(metered: Boolean = false) = caps(NetworkCapabilities.TRANSPORT_WIFI, metered = metered)

    fun cellular(roaming: Boolean = false) = caps(NetworkCapabilities.TRANSPORT_CELLULAR, metered = true, roaming = roaming)

    fun newNetwork(): Network = ShadowNetwork.newInstance(nextId++)

    /** Makes a network with [caps] the default before any callback is registered (what `activeNetwork` says). */
    fun startOn(caps: NetworkCapabilities): Network {
        shadow.setActiveNetworkInfo(
            ShadowNetworkInfo.newInstance(NetworkInfo.DetailedState.CONNECTED, ConnectivityManager.TYPE_WIFI, 0, true, true),
        )
        shadow.setDefaultNetworkActive(true)
        val network = connectivity.activeNetwork ?: error("no active network")
        shadow.setNetworkCapabilities(network, caps)
        return network
    }

    /** [network] becomes the default network (or changes its capabilities), as the system reports it. */
    fun switchTo(network: Network, caps: NetworkCapabilities) {
        shadow.setNetworkCapabilities(network, caps)
        callbacks.forEach {
            it.onAvailable(network)
            it.onCapabilitiesChanged(network, caps)
        }
    }

    fun lose(network: Network) = callbacks.forEach { it.onLost(network) }

    fun block(network: Network, blocked: Boolean) = callbacks.forEach { it.onBlockedStatusChanged(network, blocked) }
}
