#!/usr/bin/env bash
# Rebuilds the Java runtime client, internal/runtimes/clients/java/nimbus-java-runtime.jar,
# from src/. The jar is committed so that building Nimbus needs no JDK; run
# this after changing any file under src/ (a test fails while the jar is stale).
# Needs a JDK 17 or newer (javac, jar); the classes target Java 17, so one jar
# serves the java17, java21 and java25 runtimes.
set -euo pipefail
cd "$(dirname "$0")"
out=../clients/java/nimbus-java-runtime.jar
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mapfile -t sources < <(find src -name '*.java' | LC_ALL=C sort)
javac --release 17 -Xlint:all -Werror -g:source,lines -d "$tmp/classes" "${sources[@]}"
# The sources' digest, checked by TestJavaClientJarIsCurrent.
sha256sum "${sources[@]}" | sha256sum | cut -d' ' -f1 >"$tmp/classes/nimbus-java-runtime.sources.sha256"
mkdir -p "$(dirname "$out")"
jar --create --file "$tmp/out.jar" --date=2026-01-01T00:00:00Z --main-class nimbus.runtime.Bootstrap -C "$tmp/classes" .
mv "$tmp/out.jar" "$out"
echo "wrote $out"
