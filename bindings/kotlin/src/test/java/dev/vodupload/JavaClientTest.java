package dev.vodupload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The API as a Java 17 app sees it: records built with the builders, events through a lambda
 * subscriber and matched with instanceof patterns, sizes as long. One whole upload to vod-sim.
 */
class JavaClientTest {
    @TempDir
    Path dir;

    @Test
    void oneUploadWithEventsFromJava() throws Exception {
        try (Sim sim = new Sim()) {
            ClientConfig config = new ClientConfigBuilder()
                    .databasePath(dir.resolve("uploads.db").toString())
                    .vodEndpoint(sim.getVodEndpoint())
                    .region(sim.getRegion())
                    .allowHttp(true)
                    .partSize(100 * 1024)
                    .parallelParts(2)
                    .progressIntervalMs(10)
                    .build();
            try (VodUploadClient client = new VodUploadClient(config)) {
                BlockingQueue<UploadEvent> events = new LinkedBlockingQueue<>();
                EventSubscription subscription = client.subscribe(events::add);
                client.setStsToken(sim.getAccessKeyId(), sim.getAccessKeySecret(), null, null);

                long size = 350 * 1024;
                String path = SupportKt.writeFile(dir, "java.mp4", (int) size);
                VodInfo info = new VodInfoBuilder().title("From Java").tags(List.of("java")).build();
                String id = client.addFile(path, info, null);
                client.start();

                List<UploadEvent> seen = new ArrayList<>();
                UploadResult result = null;
                long uploaded = 0;
                while (true) {
                    UploadEvent event = events.poll(SupportKt.WAIT_MS, TimeUnit.MILLISECONDS);
                    assertNotNull(event, "timed out waiting for events; seen " + seen);
                    seen.add(event);
                    if (event instanceof UploadEvent.Progress progress) {
                        assertEquals(id, progress.getFileId());
                        assertEquals(size, progress.getTotal());
                        assertTrue(progress.getUploaded() >= uploaded, "monotonic progress");
                        uploaded = progress.getUploaded();
                    } else if (event instanceof UploadEvent.Succeeded succeeded) {
                        assertEquals(id, succeeded.getFile().getId());
                        result = succeeded.getResult();
                    } else if (event instanceof UploadEvent.Failed failed) {
                        fail(failed.getCode() + ": " + failed.getMessage());
                    } else if (event instanceof UploadEvent.AllDone) {
                        break;
                    }
                }
                subscription.cancel();

                UploadEvent.Started started = assertInstanceOf(UploadEvent.Started.class, seen.get(0));
                assertEquals("From Java", started.getFile().getVodInfo().getTitle());
                assertEquals(size, uploaded);
                assertNotNull(result, "no Succeeded event");
                assertEquals(size, result.getBytes());
                assertNotNull(result.getVideoId());
                // CRC-64 does not fit a signed long: it travels as its decimal string.
                assertEquals(result.getCrc64(), client.file(id).getCrc64());
                assertEquals(FileStatus.SUCCEEDED, client.file(id).getStatus());
            }
        }
    }
}
