#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq trans-de-en chromium fonts-noto-cjk >/dev/null
python -m pip install -q -r requirements-test.txt
npm install --no-save --no-audit --no-fund --silent axe-core@4.14.1   # the browser test runs its rules on every tab
python -m pytest -q -p no:cacheprovider "$@"
