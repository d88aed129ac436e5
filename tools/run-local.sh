#!/bin/sh
# Runs the whole kvmdesk suite in the foreground, without systemd: all four
# daemons as the current user, a test-pattern video source and a test tone
# unless a capture device is given, the file HID backend (reports land in
# $dir/hid) unless KD_HID_BACKEND=uinput, direct IP on port 21118.
#   KD_PASSWORD   the password to set (default: a random one, printed)
#   KD_RUN_DIR    where config, state and sockets go (default: ./run-local)
#   KD_VIDEO      /dev/videoN or testpattern;  KD_AUDIO  ALSA device, testtone or none
#   KD_PORT       direct-IP port (default 21118)
#   KD_SERVERS / KD_KEY   optional hbbs servers and key for rendezvous
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${KD_BUILD_DIR:-$top/build}
if [ ! -x "$build/sessiond/sessiond" ]; then
  [ -f "$build/build.ninja" ] || meson setup "$build"
  ninja -C "$build"
fi
dir=${KD_RUN_DIR:-$top/run-local}
mkdir -p "$dir/state" "$dir/run" "$dir/hid"
dir=$(cd "$dir" && pwd)
conf="$dir/kvmdesk.conf"
cat >"$conf" <<CONF
[general]
state_dir = $dir/state
runtime_dir = $dir/run
log_level = info

[rendezvous]
servers = ${KD_SERVERS:-}
key = ${KD_KEY:-}

[session]
listen = 0.0.0.0:${KD_PORT:-21118}
direct_ip = on

[video]
source = ${KD_VIDEO:-testpattern}
width = 1280
height = 720
fps = 30

[audio]
source = ${KD_AUDIO:-testtone}

[hid]
backend = ${KD_HID_BACKEND:-file}
keyboard = /dev/hidg0
mouse = /dev/hidg1
file_dir = $dir/hid
CONF

"$build/kvmdeskctl/kvmdeskctl" -c "$conf" init
password=${KD_PASSWORD:-$(head -c 64 /dev/urandom | tr -dc 'a-zA-Z0-9' | head -c 10)}
printf '%s\n' "$password" | "$build/kvmdeskctl/kvmdeskctl" -c "$conf" password set >/dev/null

pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
for d in mediad hidd sessiond rendezvousd; do
  "$build/$d/$d" -c "$conf" &
  pids="$pids $!"
done

cat <<TEXT

kvmdesk is running (config $conf).
  In a RustDesk client, type this machine's IP address (port ${KD_PORT:-21118})
  as the ID and log in with the password:  $password
  Device id: $("$build/kvmdeskctl/kvmdeskctl" -c "$conf" id)
  Direct IP is unencrypted by RustDesk's design: use it on trusted networks.
  HID reports (file backend): $dir/hid/keyboard, $dir/hid/mouse
Press Ctrl-C to stop.
TEXT
wait
