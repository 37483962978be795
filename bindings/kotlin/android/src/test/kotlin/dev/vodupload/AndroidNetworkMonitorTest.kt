package dev.vodupload

import android.Manifest
import android.app.Application
import android.net.NetworkCapabilities
import android.telephony.TelephonyManager
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf

/**
 * AndroidNetworkMonitor under Robolectric: the system's network callbacks (FakeNetworks) drive
 * a real client uploading to vod-sim over HTTP, and the policy decides what gets sent.
 */
@RunWith(RobolectricTestRunner::class)
class AndroidNetworkMonitorTest {
    @get:Rule
    val tmp = TemporaryFolder()

    private lateinit var app: Application
    private lateinit var net: FakeNetworks
    private lateinit var sim: Sim
    private val rec = Recorder()
    private val closeLater = mutableListOf<AutoCloseable>()

    @Before
    fun setUp() {
        app = RuntimeEnvironment.getApplication()
        net = FakeNetworks(app)
        sim = Sim()
    }

    @After
    fun tearDown() {
        closeLater.reversed().forEach { runCatching { it.close() } }
        sim.close()
    }

    private fun client(policy: NetworkPolicy): VodUploadClient {
        val client = VodUploadClient(testConfig(sim, tmp.root.toPath()).copy(networkPolicy = policy))
        closeLater.add(client)
        client.setListener(rec)
        client.setStsToken(sim.accessKeyId, sim.accessKeySecret)
        return client
    }

    private fun monitor(client: VodUploadClient) = AndroidNetworkMonitor(app, client).also {
        closeLater.add(it)
        it.start()
    }

    private fun file(name: String, size: Int) = writeFile(tmp.root.toPath(), name, size)

    @Test
    fun `wifi to cellular stops sending at once and wifi again resumes by itself`() {
        val wifi = net.startOn(net.wifi())
        val client = client(NetworkPolicy.WifiOnly)
        val monitor = monitor(client)
        assertEquals(NetworkType.WIFI, monitor.current?.type)

        // So slow a link that no 100 KiB part can finish around the switch: every request
        // that reaches the server after it is one the client began on cellular (see
        // tests/engine/network.rs for the same reasoning).
        sim.throttle(64 * KIB)
        val id = client.addFile(file("commute.mp4", 1024 * KIB))
        client.start()
        waitUntil("both parts in flight") { SimStats.of(sim).uploadParts == 2L }

        val mark = rec.snapshot().size
        val cellular = net.newNetwork()
        net.switchTo(cellular, net.cellular())
        assertEquals(NetworkType.CELLULAR, monitor.current?.type)
        assertEquals(WaitingReason.Network, rec.waitEvent<UploadEvent.Waiting>(id, after = mark).reason)

        // On cellular the client sends nothing new, even with the link fast again: no request
        // arrives, and the server reads at most the two parts' bodies already in flight.
        val before = SimStats.of(sim)
        sim.throttle(null)
        val end = System.nanoTime() + 1_500_000_000L
        while (System.nanoTime() < end) {
            val now = SimStats.of(sim)
            assertEquals("a request was sent on cellular", before.clientRequests, now.clientRequests)
            assertTrue("bytes sent on cellular", now.bytesReceived - before.bytesReceived <= 2 * 100 * KIB + 4 * KIB)
            Thread.sleep(50)
        }
        assertEquals(FileStatus.WAITING, client.file(id)?.status)

        // Back on Wi-Fi: nobody calls start() or resume(); the monitor's report is enough.
        net.switchTo(wifi, net.wifi())
        rec.waitEvent<UploadEvent.Succeeded>(id, after = mark)
        assertEquals(0, rec.count<UploadEvent.Failed>() + rec.count<UploadEvent.Retry>())
    }

    @Test
    fun `metered wifi waits under UnmeteredOnly and uploads under WifiOnly`() {
        net.startOn(net.wifi(metered = true))
        val client = client(NetworkPolicy.UnmeteredOnly)
        val monitor = monitor(client)
        assertEquals(true, monitor.current?.metered)

        val id = client.addFile(file("hotspot.mp4", 300 * KIB))
        client.start()
        assertEquals(WaitingReason.Network, rec.waitEvent<UploadEvent.Waiting>(id).reason)
        assertEquals(0L, SimStats.of(sim).uploadParts)

        // A phone's hotspot is still Wi-Fi: WifiOnly lets it carry the upload.
        client.setNetworkPolicy(NetworkPolicy.WifiOnly)
        rec.waitEvent<UploadEvent.Succeeded>(id)
    }

    @Test
    fun `roaming waits under a cellular budget and the home network uploads`() {
        val cellular = net.startOn(net.cellular(roaming = true))
        val client = client(NetworkPolicy.CellularBudget(bytes = 64L * 1024 * 1024))
        val monitor = monitor(client)
        assertEquals(true, monitor.current?.roaming)

        val id = client.addFile(file("abroad.mp4", 300 * KIB))
        client.start()
        assertEquals(WaitingReason.Network, rec.waitEvent<UploadEvent.Waiting>(id).reason)
        assertEquals(0L, SimStats.of(sim).uploadParts)

        net.switchTo(cellular, net.cellular(roaming = false))
        assertEquals(false, monitor.current?.roaming)
        rec.waitEvent<UploadEvent.Succeeded>(id)
    }

    @Test
    fun `no network at start waits, and the first network starts the upload`() {
        val client = client(NetworkPolicy.Any)
        val monitor = monitor(client)
        assertEquals(AndroidNetwork.OFFLINE, monitor.current)

        val id = client.addFile(file("later.mp4", 300 * KIB))
        client.start()
        assertEquals(WaitingReason.Network, rec.waitEvent<UploadEvent.Waiting>(id).reason)

        val wifi = net.newNetwork()
        net.switchTo(wifi, net.wifi())
        rec.waitEvent<UploadEvent.Succeeded>(id)

        net.lose(wifi)
        assertEquals(AndroidNetwork.OFFLINE, monitor.current)
    }
}

/** The mapping and the monitor's own life, without uploads. */
@RunWith(RobolectricTestRunner::class)
class AndroidNetworkTest {
    private val app: Application = RuntimeEnvironment.getApplication()
    private val net = FakeNetworks(app)
    private val client = VodUploadClient(ClientConfig())

    @After
    fun tearDown() = client.close()

    @Test
    fun `capabilities map to the engine's network state`() {
        assertEquals("the framework under test is the one compiled against", 34, android.os.Build.VERSION.SDK_INT)
        val wifi = AndroidNetwork.from(net.wifi())
        assertEquals(AndroidNetwork(NetworkType.WIFI, metered = false, roaming = false, validated = true), wifi)
        assertEquals(NetworkState(NetworkType.WIFI, metered = false, roaming = false, validated = true), wifi.toNetworkState())

        val cell = AndroidNetwork.from(net.cellular(roaming = true))
        assertEquals(NetworkType.CELLULAR, cell.type)
        assertTrue(cell.metered && cell.roaming)

        assertEquals(NetworkType.ETHERNET, AndroidNetwork.from(net.caps(NetworkCapabilities.TRANSPORT_ETHERNET)).type)
        // A VPN over Wi-Fi carries both transports: it costs what the Wi-Fi costs.
        assertEquals(
            NetworkType.WIFI,
            AndroidNetwork.from(net.caps(NetworkCapabilities.TRANSPORT_VPN, NetworkCapabilities.TRANSPORT_WIFI)).type,
        )
        assertEquals(NetworkType.UNKNOWN, AndroidNetwork.from(net.caps(NetworkCapabilities.TRANSPORT_BLUETOOTH)).type)
        // A captive portal: connected, not validated.
        assertFalse(AndroidNetwork.from(net.caps(NetworkCapabilities.TRANSPORT_WIFI, validated = false)).toNetworkState().validated)
        // Data blocked for the app (Data Saver): offline to the engine.
        assertEquals(NetworkType.OFFLINE, AndroidNetwork.from(net.wifi(), blocked = true).toNetworkState().networkType)
    }

    @Test
    fun `the cellular generation is known only with READ_PHONE_STATE`() {
        assertEquals(CellularGeneration.G4, AndroidNetwork.generationOf(TelephonyManager.NETWORK_TYPE_LTE))
        assertEquals(CellularGeneration.G3, AndroidNetwork.generationOf(TelephonyManager.NETWORK_TYPE_HSPAP))
        assertNull(AndroidNetwork.generationOf(TelephonyManager.NETWORK_TYPE_UNKNOWN))

        shadowOf(app.getSystemService(TelephonyManager::class.java)).setDataNetworkType(TelephonyManager.NETWORK_TYPE_NR)
        net.startOn(net.cellular())
        val monitor = AndroidNetworkMonitor(app, client)
        monitor.start()
        assertNull(monitor.current?.cellularGeneration)
        monitor.stop()

        shadowOf(app).grantPermissions(Manifest.permission.READ_PHONE_STATE)
        monitor.start()
        assertEquals(CellularGeneration.G5, monitor.current?.cellularGeneration)
        monitor.stop()
    }

    @Test
    fun `a late onLost of the previous network does not hide the new one`() {
        val seen = mutableListOf<AndroidNetwork>()
        val old = net.startOn(net.wifi())
        val monitor = AndroidNetworkMonitor(app, client) { seen.add(it) }
        monitor.start()
        val cellular = net.newNetwork()
        net.switchTo(cellular, net.cellular())
        net.lose(old)
        assertEquals(NetworkType.CELLULAR, monitor.current?.type)
        net.block(cellular, true)
        assertEquals(NetworkType.OFFLINE, monitor.current?.toNetworkState()?.networkType)
        net.block(cellular, false)
        net.lose(cellular)
        assertEquals(AndroidNetwork.OFFLINE, monitor.current)
        assertEquals(listOf(NetworkType.WIFI, NetworkType.CELLULAR, NetworkType.CELLULAR, NetworkType.CELLULAR, NetworkType.OFFLINE), seen.map { it.type })
        monitor.stop()
    }

    @Test
    fun `start registers one callback, stop removes it, a closed client ends the monitor`() {
        val monitor = AndroidNetworkMonitor(app, client)
        monitor.start()
        monitor.start()
        assertEquals(1, net.callbacks.size)
        monitor.stop()
        assertEquals(0, net.callbacks.size)

        monitor.start()
        client.shutdown()
        net.switchTo(net.newNetwork(), net.wifi())
        assertEquals("a monitor of a closed client unregisters itself", 0, net.callbacks.size)
    }
}
