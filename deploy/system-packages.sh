#!/usr/bin/env bash
# The Debian packages the hub's commands need beyond Python: Java 17 and Maven (the local
# Apache Kafka and its jars; the JDK's javac compiles deploy/strimzi-check), make, openssl
# (test certificates), systemd-analyze (deploy/systemd's units are checked), chromium (the ops page test drives it) and a font with Chinese
# glyphs (its screenshot). Installs the missing ones with apt-get when run as root;
# otherwise says what to install and fails.
#   deploy/system-packages.sh [--check]   --check: only report, install nothing
set -euo pipefail

need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
command -v make >/dev/null || need+=(make)
command -v openssl >/dev/null || need+=(openssl)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)
command -v fc-list >/dev/null || need+=(fontconfig)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-zenhei)

if (( ${#need[@]} == 0 )); then
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  echo "system-packages: missing ${need[*]}" >&2
  exit 1
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
  echo "system-packages: missing ${need[*]}; install them (Debian: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "system-packages: installing ${need[*]} (apt-get)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
