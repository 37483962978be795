package dev.vodupload.sample

import android.content.Context
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import android.os.Build
import dev.vodupload.sample.core.NetworkFacts

/**
 * Follows the default network with `ConnectivityManager.NetworkCallback` and reports every
 * change (transport, metered, roaming, validated) to [onChange]; `null` when there is none.
 * The mapping to the library's `NetworkState` is in core (`toNetworkState`), tested on the JVM.
 */
class NetworkMonitor(context: Context, private val onChange: (NetworkFacts?) -> Unit) {
    private val connectivity = context.getSystemService(ConnectivityManager::class.java)

    private val callback = object : ConnectivityManager.NetworkCallback() {
        override fun onCapabilitiesChanged(network: Network, caps: NetworkCapabilities) = onChange(caps.toFacts())

        override fun onLost(network: Network) = onChange(null)
    }

    fun start() {
        // The current state first: the callback only reports changes after registration.
        onChange(connectivity.activeNetwork?.let(connectivity::getNetworkCapabilities)?.toFacts())
        connectivity.registerDefaultNetworkCallback(callback)
    }

    fun stop() = connectivity.unregisterNetworkCallback(callback)
}

fun NetworkCapabilities.toFacts() = NetworkFacts(
    wifi = hasTransport(NetworkCapabilities.TRANSPORT_WIFI),
    cellular = hasTransport(NetworkCapabilities.TRANSPORT_CELLULAR),
    ethernet = hasTransport(NetworkCapabilities.TRANSPORT_ETHERNET),
    // A carrier can lift metering for a while (5G promotions); treat that as unmetered.
    notMetered = hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED) ||
        (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R &&
            hasCapability(NetworkCapabilities.NET_CAPABILITY_TEMPORARILY_NOT_METERED)),
    notRoaming = hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_ROAMING),
    validated = hasCapability(NetworkCapabilities.NET_CAPABILITY_VALIDATED),
)
