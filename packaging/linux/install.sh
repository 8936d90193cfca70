#!/usr/bin/env bash
# Install (or remove) the ragdesk app folder this script sits in, for one user or system-wide.
#
#   ./install.sh              copy to ~/.local/opt/ragdesk, add ragdesk-gui to ~/.local/bin,
#                             the launcher entry and icons under ~/.local/share
#   sudo ./install.sh --system    the same under /opt/ragdesk, /usr/local/bin, /usr/local/share
#   ./install.sh --uninstall [--system]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODE=user
ACTION=install
for arg in "$@"; do
    case "$arg" in
        --system) MODE=system ;;
        --uninstall) ACTION=uninstall ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done

if [ "$MODE" = system ]; then
    OPT=/opt/ragdesk; BIN=/usr/local/bin; SHARE=/usr/local/share
else
    OPT="$HOME/.local/opt/ragdesk"; BIN="$HOME/.local/bin"; SHARE="${XDG_DATA_HOME:-$HOME/.local/share}"
fi
DESKTOP="$SHARE/applications/ragdesk.desktop"
ICON_PNG="$SHARE/icons/hicolor/256x256/apps/ragdesk.png"
ICON_SVG="$SHARE/icons/hicolor/scalable/apps/ragdesk.svg"

refresh() {
    command -v update-desktop-database >/dev/null && update-desktop-database -q "$SHARE/applications" || true
    command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" || true
}

if [ "$ACTION" = uninstall ]; then
    rm -f "$BIN/ragdesk-gui" "$DESKTOP" "$ICON_PNG" "$ICON_SVG"
    rm -rf "$OPT"
    refresh
    echo "ragdesk removed (your documents index and models stay in your data folder)."
    exit 0
fi

if [ ! -x "$HERE/ragdesk" ]; then
    echo "install.sh: run me from the ragdesk app folder (no ragdesk program next to me)." >&2
    exit 1
fi
if [ "$HERE" != "$OPT" ]; then
    rm -rf "$OPT"
    mkdir -p "$(dirname "$OPT")"
    cp -a "$HERE" "$OPT"
fi
mkdir -p "$BIN" "$(dirname "$DESKTOP")" "$(dirname "$ICON_PNG")" "$(dirname "$ICON_SVG")"
ln -sfn "$OPT/ragdesk" "$BIN/ragdesk-gui"
cp "$OPT/share/icons/hicolor/256x256/apps/ragdesk.png" "$ICON_PNG"
cp "$OPT/share/icons/hicolor/scalable/apps/ragdesk.svg" "$ICON_SVG"
# The launcher runs the installed program by its full path (~/.local/bin is not always on PATH).
sed "s|^Exec=.*|Exec=\"$OPT/ragdesk\" %F|" "$OPT/share/applications/ragdesk.desktop" > "$DESKTOP"
chmod 644 "$DESKTOP"
refresh
echo "ragdesk installed in $OPT; start it from your applications menu or with: $BIN/ragdesk-gui"
