#!/usr/bin/env bash
# Build the one-folder desktop app: <dist>/ragdesk/ragdesk (+ _internal/, the Linux install bits).
#
#   packaging/build.sh [DIST_DIR]        default DIST_DIR: dist/ (at the repository root)
#
# Environment: PYTHON (default .venv/bin/python, which must have PyInstaller:
# `pip install -e '.[package]'`), RAGDESK_BUILD_DIR (PyInstaller's work folder,
# default build/pyinstaller; reusing it makes later builds faster).
# Prints the build time and the bundle's size, and records them in BUILD-INFO.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="$(mkdir -p "${1:-$ROOT/dist}" && cd "${1:-$ROOT/dist}" && pwd)"
WORK="${RAGDESK_BUILD_DIR:-$ROOT/build/pyinstaller}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "build.sh: PyInstaller is not installed for $PYTHON; run: $PYTHON -m pip install -e '$ROOT[package]'" >&2
    exit 2
fi

start=$(date +%s)
echo "build.sh: building ragdesk with $("$PYTHON" -m PyInstaller --version) into $DIST/ragdesk"
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" "$ROOT/packaging/ragdesk.spec"

APP="$DIST/ragdesk"
# The desktop integration: launcher entry, icons, an installer and its instructions.
mkdir -p "$APP/share/applications" "$APP/share/icons/hicolor/256x256/apps" "$APP/share/icons/hicolor/scalable/apps"
cp "$ROOT/ragdesk/resources/ragdesk.desktop" "$APP/share/applications/ragdesk.desktop"
cp "$ROOT/ragdesk/resources/ragdesk.png" "$APP/share/icons/hicolor/256x256/apps/ragdesk.png"
cp "$ROOT/ragdesk/resources/ragdesk.svg" "$APP/share/icons/hicolor/scalable/apps/ragdesk.svg"
install -m 755 "$ROOT/packaging/linux/install.sh" "$APP/install.sh"
cp "$ROOT/packaging/linux/INSTALL.txt" "$APP/INSTALL.txt"

seconds=$(( $(date +%s) - start ))
size=$(du -sh "$APP" | cut -f1)
version=$("$PYTHON" -c "import ragdesk; print(ragdesk.__version__)")
cat > "$APP/BUILD-INFO.txt" <<EOF
ragdesk $version, built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -sm) with $("$PYTHON" -m PyInstaller --version)
build time: ${seconds} s; bundle size: $size
EOF
echo "build.sh: done in ${seconds} s; $APP is $size"
echo "build.sh: check it with: $APP/ragdesk --self-test"
