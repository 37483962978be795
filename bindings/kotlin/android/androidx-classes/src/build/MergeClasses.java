// Run by ../../pom.xml (Java's single-file launcher, so no build step of its own):
//   java MergeClasses.java DIR OUT
// copies the .class files of every jar in DIR, and of the classes.jar inside every .aar in
// DIR, into the directory OUT. The first copy of a class wins (the list has no duplicates).
// Ant's unzip cannot reach a jar inside an archive, and the dependency plugin has no unarchiver
// for the .aar type, hence these few lines.
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;

public class MergeClasses {
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        Path out = Path.of(args[1]);
        List<Path> archives;
        try (Stream<Path> files = Files.list(dir)) {
            archives = files.filter(p -> p.toString().endsWith(".jar") || p.toString().endsWith(".aar")).sorted().toList();
        }
        int classes = 0;
        for (Path archive : archives) {
            try (ZipFile zip = new ZipFile(archive.toFile())) {
                if (archive.toString().endsWith(".aar")) {
                    ZipEntry inner = zip.getEntry("classes.jar");
                    if (inner == null) continue; // a resources-only AAR
                    try (ZipInputStream jar = new ZipInputStream(zip.getInputStream(inner))) {
                        classes += copyClasses(jar, out);
                    }
                } else {
                    try (ZipInputStream jar = new ZipInputStream(Files.newInputStream(archive))) {
                        classes += copyClasses(jar, out);
                    }
                }
            }
        }
        System.out.println("androidx-classes: " + classes + " classes from " + archives.size() + " archives");
    }

    private static int copyClasses(ZipInputStream jar, Path out) throws IOException {
        int n = 0;
        for (ZipEntry e; (e = jar.getNextEntry()) != null; ) {
            String name = e.getName();
            // module-info and META-INF (signatures, versions/) would make the merged jar lie.
            if (e.isDirectory() || !name.endsWith(".class") || name.startsWith("META-INF/") || name.endsWith("module-info.class")) continue;
            Path target = out.resolve(name).normalize();
            if (!target.startsWith(out) || Files.exists(target)) continue;
            Files.createDirectories(target.getParent());
            Files.copy((InputStream) jar, target);
            n++;
        }
        return n;
    }
}
