#!/usr/bin/env bash
# Build the Linux packages from a clean checkout: the PyInstaller bundle, a .deb and a
# portable .tar.gz. Output in dist/. Needs: python3 (3.11+), dpkg-deb, binutils (strip).
#   bash packaging/build-linux.sh            # uses ./.venv-build, made if missing
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=$(python3 -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
venv=${BUILD_VENV:-$root/.venv-build}
out=$root/dist
work=$root/build/linux
started=$(date +%s)

if [[ ! -x $venv/bin/pyinstaller ]]; then
  python3 -m venv "$venv"
  # The cached llama-cpp-python wheel must run on any x86-64 CPU, not just this one.
  CMAKE_ARGS="-DGGML_NATIVE=OFF" "$venv/bin/pip" install -q ".[local]" pyinstaller
fi

rm -rf "$work" "$out/desktop-chat" && mkdir -p "$work" "$out"
"$venv/bin/pyinstaller" --noconfirm --clean --log-level WARN --distpath "$out" --workpath "$work/pyinstaller" \
  packaging/desktop-chat.spec
bundle=$out/desktop-chat
# Strip debug symbols, but not numpy's OpenBLAS (stripping breaks its ELF layout).
find "$bundle" -type f \( -name '*.so*' -o -name 'desktop-chat' \) -not -path '*numpy.libs*' \
  -exec strip --strip-unneeded {} + 2>/dev/null || true
echo "bundle: $(du -sh "$bundle" | cut -f1)"

# .deb
pkg=$work/deb
install -d "$pkg/DEBIAN" "$pkg/usr/lib" "$pkg/usr/bin" "$pkg/usr/share/applications" "$pkg/usr/share/metainfo" \
  "$pkg/usr/share/doc/desktop-chat" "$pkg/usr/share/man/man1" "$pkg/usr/share/lintian/overrides"
cp -a "$bundle" "$pkg/usr/lib/desktop-chat"
ln -s ../lib/desktop-chat/desktop-chat "$pkg/usr/bin/desktop-chat"
install -m 644 resources/desktop-chat.desktop "$pkg/usr/share/applications/"
install -m 644 resources/io.github.desktop_chat.DesktopChat.metainfo.xml "$pkg/usr/share/metainfo/"
for size in 16 24 32 48 64 128 256 512; do
  install -D -m 644 "resources/icons/desktop-chat-$size.png" "$pkg/usr/share/icons/hicolor/${size}x${size}/apps/desktop-chat.png"
done
install -D -m 644 resources/icons/desktop-chat.svg "$pkg/usr/share/icons/hicolor/scalable/apps/desktop-chat.svg"
gzip -9n -c resources/desktop-chat.1 > "$pkg/usr/share/man/man1/desktop-chat.1.gz"
install -m 644 packaging/debian/copyright "$pkg/usr/share/doc/desktop-chat/copyright"
gzip -9n -c packaging/debian/changelog > "$pkg/usr/share/doc/desktop-chat/changelog.gz"
install -m 644 packaging/debian/lintian-overrides "$pkg/usr/share/lintian/overrides/desktop-chat"
# Files: 644, folders and programs 755, owned by root (dpkg-deb --root-owner-group).
find "$pkg/usr" -type d -exec chmod 755 {} +
find "$pkg/usr" -type f -exec chmod 644 {} +
find "$pkg/usr/lib/desktop-chat" -type f \( -name 'desktop-chat' -o -name 'python3*' \) -exec chmod 755 {} +
installed_kb=$(du -sk "$pkg/usr" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$installed_kb/" packaging/debian/control > "$pkg/DEBIAN/control"
deb=$out/desktop-chat_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zgzip --build "$pkg" "$deb" >/dev/null
echo "deb: $deb ($(du -h "$deb" | cut -f1), installed $((installed_kb / 1024)) MB)"

# Portable .tar.gz with the desktop entry, icon and an install script.
tarroot=$work/desktop-chat-$version
rm -rf "$tarroot" && mkdir -p "$tarroot"
cp -a "$bundle" "$tarroot/desktop-chat"
cp resources/desktop-chat.desktop resources/icons/desktop-chat-256.png packaging/install.sh "$tarroot/"
tar -C "$work" -czf "$out/desktop-chat-$version-linux-$arch.tar.gz" "desktop-chat-$version"
echo "tar.gz: $out/desktop-chat-$version-linux-$arch.tar.gz ($(du -h "$out/desktop-chat-$version-linux-$arch.tar.gz" | cut -f1))"
echo "built in $(( $(date +%s) - started )) s"
