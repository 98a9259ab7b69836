# Shared by tools/demo, tools/test and tools/fuzz: install what is missing, configure, build.
# Source it; it defines functions only.

GM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GM_PACKAGES=(gcc make cmake pkg-config libsodium-dev libuv1-dev libprotobuf-c-dev
             protobuf-c-compiler libcriterion-dev libsqlite3-dev libcjson-dev libinih-dev jq)

# Installs the Debian packages in GM_PACKAGES (plus any given) that are not installed yet.
gm_ensure_packages() {
    local missing=() p
    for p in "${GM_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "run as root to install: ${missing[*]}" >&2; return 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# gm_build DIR [CMAKE_ARGS...]: configure (once) and build out of tree.
gm_build() {
    local dir=$1
    shift
    echo "==> building in ${dir#"$GM_ROOT"/}"
    cmake -S "$GM_ROOT" -B "$dir" "$@" >"$dir.configure.log" 2>&1 ||
        { cat "$dir.configure.log" >&2; return 1; }
    local rc=0
    cmake --build "$dir" -j"$(nproc)" >"$dir.build.log" 2>&1 || rc=$?
    grep -Ev '^\[ *[0-9]+%\]|^Consolidate|^-- ' "$dir.build.log" || true
    return "$rc"
}
