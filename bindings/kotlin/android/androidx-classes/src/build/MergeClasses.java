// Run by ../../pom.xml (Java's single-file launcher, so no build step of its own):
//   java MergeClasses.java DIR OUT
// copies the .class files of every jar in DIR, and of the classes.jar inside every .aar in
// DIR, into the directory OUT, with their META-INF/*.kotlin_module files (the Kotlin compiler
// finds top-level functions such as lifecycleScope through them). The first copy of a file
// wins (the list has no duplicates).
//
// It also copies each AAR's res/ to OUT/androidx-res/NAME/res and its package name to
// OUT/androidx-res/NAME/package: an app build compiles them with its own resources and
// generates the libraries' R classes (AGP does that from the AARs; see
// android-sample/app/maven/prepare.sh).
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
                    if (inner != null) {
                        try (ZipInputStream jar = new ZipInputStream(zip.getInputStream(inner))) {
                            classes += copyClasses(jar, out);
                        }
                    }
                    copyResources(zip, archive, out);
                } else {
                    try (ZipInputStream jar = new ZipInputStream(Files.newInputStream(archive))) {
                        classes += copyClasses(jar, out);
                    }
                }
            }
        }
        System.out.println("androidx-classes: " + classes + " files from " + archives.size() + " archives");
    }

    private static void copyResources(ZipFile aar, Path archive, Path out) throws IOException {
        String name = archive.getFileName().toString().replaceFirst("\\.aar$", "");
        Path dir = out.resolve("androidx-res").resolve(name);
        boolean any = false;
        for (ZipEntry e : java.util.Collections.list(aar.entries())) {
            if (e.isDirectory() || !e.getName().startsWith("res/")) continue;
            Path target = dir.resolve(e.getName()).normalize();
            if (!target.startsWith(dir)) continue;
            Files.createDirectories(target.getParent());
            try (InputStream in = aar.getInputStream(e)) {
                Files.copy(in, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            any = true;
        }
        if (!any) return;
        ZipEntry manifest = aar.getEntry("AndroidManifest.xml");
        String xml;
        try (InputStream in = aar.getInputStream(manifest)) {
            xml = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("package=\"([^\"]+)\"").matcher(xml);
        if (!m.find()) throw new IOException("no package in the manifest of " + archive);
        Files.writeString(dir.resolve("package"), m.group(1));
    }

    private static int copyClasses(ZipInputStream jar, Path out) throws IOException {
        int n = 0;
        for (ZipEntry e; (e = jar.getNextEntry()) != null; ) {
            String name = e.getName();
            // Other META-INF files (signatures, versions/, manifests) and module-info would make
            // the merged jar lie about itself.
            boolean kotlinModule = name.startsWith("META-INF/") && name.endsWith(".kotlin_module") && name.indexOf('/', 9) < 0;
            boolean isClass = name.endsWith(".class") && !name.startsWith("META-INF/") && !name.endsWith("module-info.class");
            if (e.isDirectory() || !(kotlinModule || isClass)) continue;
            Path target = out.resolve(name).normalize();
            if (!target.startsWith(out) || Files.exists(target)) continue;
            Files.createDirectories(target.getParent());
            Files.copy((InputStream) jar, target);
            n++;
        }
        return n;
    }
}
