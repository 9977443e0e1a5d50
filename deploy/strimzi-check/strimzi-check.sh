#!/usr/bin/env bash
# Offline check of Strimzi custom resources against Strimzi's own model (io.strimzi:api).
#
#   deploy/strimzi-check/strimzi-check.sh build          resolve the model from Maven Central and
#                                                        compile the checker (once; cached)
#   deploy/strimzi-check/strimzi-check.sh FILE.yaml...   check every kafka.strimzi.io document
#
# Every Kafka, KafkaNodePool, KafkaTopic and KafkaUser (and Strimzi's other kinds) is read
# strictly into its model class: an unknown field, a value of the wrong type or an unknown
# enum value fails (StrimziCheck.java says how). Other documents are skipped. One line per
# document (OK / FAIL / SKIP); exit 1 when one failed.
#
# The jars (about 18 MB) and the compiled class live in deploy/strimzi-check/.cache, built
# again only when pom.xml or StrimziCheck.java change. Needs Maven (mvn) once and a JDK
# (javac, java 17+). Environment: HUB_STRIMZI_VERSION (default from pom.xml), JAVA_HOME.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$HERE/.cache"
VERSION="${HUB_STRIMZI_VERSION:-$(sed -n 's:.*<strimzi.version>\(.*\)</strimzi.version>.*:\1:p' "$HERE/pom.xml")}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
JAVAC="${JAVA_HOME:+$JAVA_HOME/bin/}javac"

die() { echo "strimzi-check.sh: $*" >&2; exit 2; }

build() {
  # the marker names the inputs: an edit of the pom or the checker builds again
  local stamp marker
  stamp="$(cat "$HERE/pom.xml" "$HERE/StrimziCheck.java" | sha256sum | cut -c1-16)"
  marker="$CACHE/.built-$VERSION-$stamp"
  if [[ -f "$marker" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed once to fetch io.strimzi:api:$VERSION: apt-get install maven (make system)"
  command -v "$JAVAC" >/dev/null || die "a JDK (javac 17+) is needed to compile the checker: apt-get install openjdk-17-jdk-headless (make system)"
  echo "strimzi-check.sh: fetching io.strimzi:api:$VERSION and its dependencies from Maven Central into $CACHE/libs ..." >&2
  rm -rf "$CACHE"
  mkdir -p "$CACHE/libs" "$CACHE/classes"
  if ! mvn -B -f "$HERE/pom.xml" -Dstrimzi.version="$VERSION" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$CACHE/libs" > "$CACHE/mvn.log" 2>&1; then
    grep -E "ERROR|Could not" "$CACHE/mvn.log" | head -n 20 >&2
    die "Maven could not resolve io.strimzi:api:$VERSION; check the version and network access to Maven Central"
  fi
  "$JAVAC" -nowarn -encoding UTF-8 -d "$CACHE/classes" -cp "$CACHE/libs/*" "$HERE/StrimziCheck.java" >&2 \
    || die "compiling StrimziCheck.java against io.strimzi:api:$VERSION failed"
  touch "$marker"
  echo "strimzi-check.sh: $(ls "$CACHE/libs"/*.jar | wc -l) jars cached, checker compiled" >&2
}

case "${1:-}" in
  ""|-h|--help)
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    [[ -n "${1:-}" ]] || exit 2
    ;;
  build)
    build
    ;;
  *)
    build
    command -v "$JAVA" >/dev/null || die "Java 17 or newer is needed: apt-get install openjdk-17-jre-headless"
    exec "$JAVA" -Xshare:auto -XX:TieredStopAtLevel=1 -cp "$CACHE/classes:$CACHE/libs/*" StrimziCheck "$@"
    ;;
esac
