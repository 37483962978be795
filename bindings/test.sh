#!/usr/bin/env bash
# Runs every binding test, as CI does (scripts/test-all.sh calls it):
#   1. Kotlin: generate, compile with the official compiler, JUnit on the JVM (Maven), and the
#      Android sample's JVM module against the installed bindings;
#   1b. Android: the library's Android code and the sample app compiled against the framework
#      (android-all, API 34) and androidx, and their Robolectric tests (Maven; aapt from Debian);
#   2. Python: build the module, pytest;
#   3. Swift: generate sources, header and modulemap, and check them (compiling and testing them
#      is bindings/swift/test-linux.sh, which scripts/test-all.sh runs after this script).
# Needs Rust, Java 17 + Maven (Maven Central), Python 3.11+. Honours CARGO_TARGET_DIR;
# VOD_UPLOAD_SKIP_BUILD=1 skips the cargo build when a previous step did it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/scripts/common.sh"
step() { printf '\n--- bindings: %s ---\n' "$*"; }

# The same build as scripts/test-all.sh (same packages and targets, hence the same feature
# set), so under CI this is a no-op instead of a rebuild of the library with other features.
step "cargo build --release --workspace --all-targets"
if [ "${VOD_UPLOAD_SKIP_BUILD:-0}" != 1 ]; then
  (cd "$ROOT" && cargo build --release --quiet --workspace --all-targets)
fi
bindgen_bin uniffi-bindgen >/dev/null
export VOD_UPLOAD_SKIP_BUILD=1

mvn=(mvn -B -ntp -q -Dstyle.color=never)
# Maven runs quietly; this prints what its test reports say (failures print in full anyway).
junit_summary() {
  python3 - "$1" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
t = f = e = s = 0
for path in glob.glob(sys.argv[1] + "/TEST-*.xml"):
    r = ET.parse(path).getroot()
    t += int(r.get("tests", 0)); f += int(r.get("failures", 0))
    e += int(r.get("errors", 0)); s += int(r.get("skipped", 0))
print(f"JUnit: {t} tests, {f} failures, {e} errors, {s} skipped")
PY
}
step "Kotlin (Maven: generate, compile, JUnit)"
# `install`: the Android sample's JVM module consumes the bindings from the local repository,
# as an app would.
"${mvn[@]}" -f "$here/kotlin/pom.xml" clean install
junit_summary "$here/kotlin/target/surefire-reports"

step "Android sample, JVM logic (Maven, JUnit)"
"${mvn[@]}" -f "$ROOT/android-sample/core/pom.xml" clean test
junit_summary "$ROOT/android-sample/core/target/surefire-reports"

step "Android library (Maven against android-all, Robolectric)"
# androidx ships AARs: this module turns the ones used into one jar the next two compile with.
"${mvn[@]}" -f "$here/kotlin/android/androidx-classes/pom.xml" clean install
"${mvn[@]}" -f "$here/kotlin/android/pom.xml" clean install
junit_summary "$here/kotlin/android/target/surefire-reports"

step "Android sample app (Maven against android-all, Robolectric)"
"${mvn[@]}" -f "$ROOT/android-sample/app/pom.xml" clean test
junit_summary "$ROOT/android-sample/app/target/surefire-reports"

step "Python (pytest)"
"$here/python/run_tests.sh"

step "Swift (generate + check)"
"$here/swift/generate.sh" "$TARGET_DIR/bindings-swift"
