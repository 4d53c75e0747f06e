#!/bin/sh
# Install the portable bundle for this user: ~/.local/lib/desktop-chat, a command in
# ~/.local/bin, the menu entry and icon. Run again to update; --uninstall removes it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
lib="$HOME/.local/lib/desktop-chat"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps"
if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$lib" "$HOME/.local/bin/desktop-chat" "$apps/desktop-chat.desktop" "$icons/desktop-chat.png"
  echo "Desktop Chat removed (your history and settings are kept)."
  exit 0
fi
mkdir -p "$lib" "$HOME/.local/bin" "$apps" "$icons"
rm -rf "$lib" && cp -a "$here/desktop-chat" "$lib"
ln -sf "$lib/desktop-chat" "$HOME/.local/bin/desktop-chat"
sed "s|^Exec=desktop-chat|Exec=$lib/desktop-chat|" "$here/desktop-chat.desktop" > "$apps/desktop-chat.desktop"
cp "$here/desktop-chat-256.png" "$icons/desktop-chat.png"
echo "Desktop Chat installed: find it in your applications menu, or run $HOME/.local/bin/desktop-chat"
