#!/usr/bin/env bash
# Quick start, command 1 of 2: install everything, then start the app on its embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
npm ci
exec npm start
