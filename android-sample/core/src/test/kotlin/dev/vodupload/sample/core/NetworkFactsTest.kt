package dev.vodupload.sample.core

import dev.vodupload.NetworkState
import dev.vodupload.NetworkType
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test

class NetworkFactsTest {
    @Test
    fun `no default network is OFFLINE and not validated`() {
        assertEquals(NetworkState(NetworkType.OFFLINE, metered = false, roaming = false, validated = false), null.toNetworkState())
    }

    @Test
    fun `home wifi is unmetered and validated`() {
        val s = NetworkFacts(wifi = true, notMetered = true, validated = true).toNetworkState()
        assertEquals(NetworkState(NetworkType.WIFI, metered = false, roaming = false, validated = true), s)
    }

    @Test
    fun `a phone hotspot is wifi but metered`() {
        val s = NetworkFacts(wifi = true, notMetered = false, validated = true).toNetworkState()
        assertEquals(NetworkType.WIFI, s.networkType)
        assertEquals(true, s.metered)
    }

    @Test
    fun `roaming cellular behind a captive portal`() {
        val s = NetworkFacts(cellular = true, notRoaming = false, validated = false).toNetworkState()
        assertEquals(NetworkState(NetworkType.CELLULAR, metered = true, roaming = true, validated = false), s)
    }

    @Test
    fun `a vpn over wifi counts as wifi and a bare vpn as unknown`() {
        assertEquals(NetworkType.WIFI, NetworkFacts(wifi = true, cellular = true, validated = true).toNetworkState().networkType)
        assertEquals(NetworkType.ETHERNET, NetworkFacts(ethernet = true, validated = true).toNetworkState().networkType)
        assertEquals(NetworkType.UNKNOWN, NetworkFacts(validated = true).toNetworkState().networkType)
    }
}
