#!/bin/sh
# kvmdeskctl init / id / pubkey / password set, as an administrator uses them.
set -eu
ctl="$KD_BUILD_DIR/kvmdeskctl/kvmdeskctl"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat >"$dir/k.conf" <<CONF
[general]
state_dir = $dir/state
runtime_dir = $dir/run
CONF

"$ctl" -c "$dir/missing.conf" id 2>/dev/null && fail "a missing config must fail"
"$ctl" -c "$dir/k.conf" id 2>/dev/null && fail "id before init must fail"

"$ctl" -c "$dir/k.conf" init | grep -q "created identity" || fail "init did not create"
id1=$("$ctl" -c "$dir/k.conf" id)
pk1=$("$ctl" -c "$dir/k.conf" pubkey)
echo "$id1" | grep -Eq '^[0-9]{9}$' || fail "id '$id1' is not 9 digits"
# An Ed25519 public key: 32 bytes.
[ "$(printf '%s' "$pk1" | base64 -d | wc -c)" -eq 32 ] || fail "pubkey '$pk1' is not 32 bytes"

"$ctl" -c "$dir/k.conf" init | grep -q "unchanged" || fail "second init must change nothing"
[ "$("$ctl" -c "$dir/k.conf" id)" = "$id1" ] || fail "id changed"
[ "$("$ctl" -c "$dir/k.conf" pubkey)" = "$pk1" ] || fail "pubkey changed"
"$ctl" -c "$dir/k.conf" --json id | grep -q "\"id\":\"$id1\"" || fail "json id"

[ "$(stat -c %a "$dir/state/private")" = 700 ] || fail "private/ must be 0700"
[ "$(stat -c %a "$dir/state/private/secret_key")" = 600 ] || fail "secret key must be 0600"

salt_before=$(cut -d' ' -f1 "$dir/state/private/password")
echo "correct horse" | "$ctl" -c "$dir/k.conf" password set >/dev/null || fail "password set"
grep -q "correct horse" "$dir/state/private/password" && fail "password stored in clear"
salt_after=$(cut -d' ' -f1 "$dir/state/private/password")
[ "$salt_before" = "$salt_after" ] || fail "salt changed on password set"
# h1 = sha256(password || salt), the verifier RustDesk's login needs.
h1=$(printf '%s%s' "correct horse" "$salt_after" | sha256sum | cut -d' ' -f1)
[ "$(cut -d' ' -f2 "$dir/state/private/password")" = "$h1" ] || fail "verifier is not sha256(password||salt)"

printf '' | "$ctl" -c "$dir/k.conf" password set 2>/dev/null && fail "empty password accepted"
"$ctl" -c "$dir/k.conf" frobnicate 2>/dev/null && fail "unknown command accepted"
echo "kvmdeskctl identity: ok"
