# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Shared by lowbit's download scripts; sourced, not run. The sourcing script sets LOG_TAG first.
# Provides CHECKSUMS, CACHE, log, die, as_root, apt_missing, apt_install, and verify FILE NAME (sha256 against
# scripts/checksums.sha256: returns 1 with details on a mismatch, dies if NAME has no entry).

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHECKSUMS="${SCRIPT_DIR}/checksums.sha256"
CACHE="${LOWBIT_CACHE:-$HOME/.cache/lowbit}"

log() { echo "[${LOG_TAG}] $*" >&2; }
die() { echo "[${LOG_TAG}] ERROR: $*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root (or sudo) to run: $*"
    fi
}

# apt_missing PKG...: prints the packages of the list that dpkg does not have installed.
apt_missing() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
}

# apt_install PKG...: installs the packages (none: nothing), quietly, without recommends.
apt_install() {
    [ $# -gt 0 ] || return 0
    log "installing $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

expected_sha() {
    local name="$1" sha
    [ -f "$CHECKSUMS" ] || die "checksum file not found: $CHECKSUMS"
    sha="$(awk -v n="$name" '$2 == n || $2 == "*"n { print $1 }' "$CHECKSUMS")"
    [ -n "$sha" ] || die "no checksum for '$name' in $CHECKSUMS"
    echo "$sha"
}

verify() {
    local file="$1" name="$2" want got
    want="$(expected_sha "$name")"
    got="$(sha256sum "$file" | awk '{print $1}')"
    if [ "$got" != "$want" ]; then
        log "sha256 mismatch for $file"
        log "  expected: $want"
        log "  actual:   $got"
        return 1
    fi
    return 0
}
