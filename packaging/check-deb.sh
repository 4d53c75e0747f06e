#!/usr/bin/env bash
# Install the .deb into a clean Debian root and use it there, as a new user would.
#   bash packaging/check-deb.sh dist/desktop-chat_*.deb BASE_URL DISPLAY
# BASE_URL: an OpenAI-compatible test server on 127.0.0.1; DISPLAY: an X server the
# caller runs (the root shares this machine's network, so both are reachable).
# Needs root, debootstrap, dpkg. The clean root (minbase bookworm + the package's
# dependencies, not the package) is cached in ~/.cache/desktop-chat-ci/.
set -euo pipefail
deb=$(realpath "$1"); base_url=$2; display=$3
# The user in the root gets a login shell ("su -"): nothing of the caller's environment.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/desktop-chat-ci
mkdir -p "$cache"
depends=$(dpkg-deb -f "$deb" Depends | sed 's/([^)]*)//g; s/,/ /g')
key=$(echo "$depends" | sha256sum | cut -c1-12)
tarball=$cache/bookworm-minbase-$key.tar
root=$(mktemp -d /tmp/clean-root.XXXXXX)
chmod 755 "$root"
cleanup() {
  for m in proc sys dev/pts dev; do umount -l "$root/$m" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT

if [[ ! -f $tarball ]]; then
  echo "== making a clean bookworm root (cached for later runs)"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
  chroot "$root" apt-get update -qq
  # The package's dependencies, so each run installs only the package itself.
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $depends >/dev/null
  chroot "$root" apt-get clean
  tar -C "$root" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
  rm -rf "${root:?}"/* 
fi
tar -C "$root" -xf "$tarball"
chmod 755 "$root"  # mktemp made it 0700; "/" must be open to the user
mount -t proc proc "$root/proc"; mount --bind /sys "$root/sys"; mount --bind /dev "$root/dev"; mount --bind /dev/pts "$root/dev/pts"

echo "== installing"
cp "$deb" "$root/tmp/"
before=$(chroot "$root" find /usr -xdev | sort | sha256sum)
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "/tmp/$(basename "$deb")" >/dev/null
chroot "$root" sh -c 'command -v desktop-chat && test -f /usr/share/applications/desktop-chat.desktop && test -f /usr/share/icons/hicolor/256x256/apps/desktop-chat.png'
chroot "$root" useradd -m person
home=/home/person
chroot "$root" su - person -c "mkdir -p $home/.config/desktop-chat && printf '%s\n' \
  'first_run_done = true' 'default_provider = \"Test\"' '[[providers]]' 'name = \"Test\"' \
  'base_url = \"$base_url\"' 'default_model = \"test-model\"' 'needs_key = false' > $home/.config/desktop-chat/settings.toml"

echo "== ask, offscreen"
answer=$(chroot "$root" su - person -c "QT_QPA_PLATFORM=offscreen desktop-chat ask 'hello from the clean root'")
[[ $answer == "You said: hello from the clean root" ]] || { echo "unexpected answer: $answer"; exit 1; }

echo "== the window, offscreen"
chroot "$root" su - person -c "QT_QPA_PLATFORM=offscreen timeout -s TERM 6 desktop-chat" && status=0 || status=$?
[[ $status == 124 ]] || { echo "the offscreen window exited early ($status)"; exit 1; }

echo "== the window, on X11 (DISPLAY $display)"
chroot "$root" su - person -c "DISPLAY=$display QT_QPA_PLATFORM=xcb desktop-chat > /tmp/app.log 2>&1 &"
echo "$root" > "${CHECK_ROOT_FILE:-/dev/null}"
for _ in $(seq 100); do
  [[ -f $root$home/.local/share/desktop-chat/history.db ]] && break; sleep 0.2
done
# The caller types into the window (see tests/packaging) and signals us by a file.
if [[ -n ${CHECK_WAIT_FILE:-} ]]; then
  for _ in $(seq 300); do [[ -f $CHECK_WAIT_FILE ]] && break; sleep 0.2; done
fi
# minbase has no pkill: find the app's processes from here, by their root.
for _ in $(seq 50); do
  pids=$(for pid in $(pgrep -f /usr/lib/desktop-chat/desktop-chat); do
    [[ $(readlink "/proc/$pid/root") == "$root" ]] && echo "$pid"; done; true)
  [[ -z $pids ]] && break
  kill -TERM $pids 2>/dev/null || true
  sleep 0.2
done
count=$(chroot "$root" su - person -c "desktop-chat history list --json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "conversations in the user's history: $count"
[[ $count -ge ${CHECK_MIN_CONVERSATIONS:-0} ]] || { echo "the history holds $count conversations"; exit 1; }

echo "== removing"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq desktop-chat >/dev/null
after=$(chroot "$root" find /usr -xdev | sort | sha256sum)
[[ $before == "$after" ]] || { echo "apt-get remove left files in /usr:"; chroot "$root" find /usr -path '*desktop-chat*'; exit 1; }
echo "== clean root check passed"
