#!/bin/sh
# Install headless Chromium (Debian's `chromium` package) for the report tests marked `browser`.
# Safe to run again: does nothing when a Chromium binary is already on PATH.
set -eu
for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then
        echo "found $(command -v "$b")"
        exit 0
    fi
done
SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
command -v chromium
