# Shared set-up for qemu/run and tests/run (sourced, not executed).
#
#   skiff_setup [--no-install] [--no-build]
#
# 1. Debian packages: each one in SKIFF_PACKAGES is checked with dpkg; whatever is missing is
#    installed when we are root (apt-get update first if the package lists are empty, and once more
#    if the install fails), or the one `apt-get install` line is printed when we are not.
# 2. Configure (`cmake --preset NAME`, Ninja, binary dir build/NAME) if that was never done, for
#    each preset asked for: x86_64 (the default; the image, host tests and tools) and aarch64
#    (the cross-compiled AArch64 image).
# 3. Build what is out of date (`cmake --build --preset NAME`); Ninja re-runs CMake by itself
#    when a CMakeLists.txt changed.
# Configure and build hold a lock on the binary directory so qemu/run and tests/run started at the
# same time do not run two Ninjas in one directory.
#
#   skiff_setup [--no-install] [--no-build] [--preset NAME]...   (default: --preset x86_64)
#
# Environment: SKIFF_NO_INSTALL=1 skips step 1, SKIFF_NO_BUILD=1 skips steps 2 and 3.

SKIFF_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SKIFF_BUILD_DIR="$SKIFF_ROOT/build/x86_64"

# The Debian packages the project needs, one a line, sorted within each group (so that additions
# from several branches merge), each with what needs it. tests/style/check_install_list.py fails
# the suite when a test, tool or qemu/ script invokes a program or imports a Python module that no
# package here (or the base system it lists) provides.
#
# Needed to build the image and the host tests, and to boot them.
SKIFF_PACKAGES_BUILD=(
    binutils           # nm: the image's symbol table (tools/build/gen_ksyms.py, check_image.py)
    build-essential
    clang-format       # tests/style/check_format.py
    cmake
    g++-aarch64-linux-gnu # the AArch64 image (cmake --preset aarch64)
    g++
    git                # the version string of the image (tools/build/BuildInfo.cmake), boot.console
    googletest
    grub-common        # skiff.iso (grub-mkrescue)
    grub-pc-bin
    libgtest-dev
    mtools             # grub-mkrescue's EFI image
    ninja-build
    python3
    qemu-system-arm    # qemu-system-aarch64: the AArch64 image's tests (and the arm64 Linux reference guest)
    qemu-system-x86
    xorriso            # grub-mkrescue
)
# Needed by the network tests, the fuzzers and the plots; the image boots without them.
SKIFF_PACKAGES_EXTRA=(
    apache2-utils      # ab: the web server's load test (tests/net/httpd)
    clang              # the libFuzzer targets (tests/fuzz/run-fuzz)
    curl               # the web server's tests (tests/net/httpd)
    iperf              # iperf 2: tests/net, qemu/bench
    iproute2           # ip: network namespaces, taps
    iputils-ping       # ping
    libclang-rt-dev    # libFuzzer and the sanitizer runtimes for clang (not pulled in without recommends)
    llvm               # llvm-symbolizer: symbolised sanitizer and fuzzer reports
    netcat-openbsd     # nc
    nftables           # nft: random loss in the fault tests
    python3-matplotlib # tools/eval/eval plots
    python3-scapy      # crafted frames: tests/net/reliability, tests/fuzz/make_corpus.py
    socat              # UDP echo in tests/net/host
    tcpdump            # brings libpcap, which scapy needs to compile BPF filter= strings
    zstd               # the Linux reference guest's kernel modules, if Debian ships them compressed
)
SKIFF_PACKAGES=("${SKIFF_PACKAGES_BUILD[@]}" "${SKIFF_PACKAGES_EXTRA[@]}")

skiff_say() { printf '%s: %s\n' "${SKIFF_TOOL:-skiff}" "$*" >&2; }

# Prints the names of the given packages that dpkg does not list as installed.
skiff_missing_packages() {
    local package
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            printf '%s\n' "$package"
        fi
    done
}

skiff_apt_lists_empty() {
    ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

skiff_ensure_packages() {
    if ! command -v dpkg-query >/dev/null; then
        skiff_say "not a Debian system (no dpkg-query): install the equivalents of ${SKIFF_PACKAGES[*]} yourself"
        return 0
    fi
    local missing missing_build
    mapfile -t missing < <(skiff_missing_packages "${SKIFF_PACKAGES[@]}")
    [ "${#missing[@]}" -eq 0 ] && return 0
    mapfile -t missing_build < <(skiff_missing_packages "${SKIFF_PACKAGES_BUILD[@]}")

    if [ "$(id -u)" -ne 0 ]; then
        skiff_say "missing Debian packages; install them with:"
        printf '    sudo apt-get install -y --no-install-recommends %s\n' "${missing[*]}" >&2
        if [ "${#missing_build[@]}" -gt 0 ]; then
            skiff_say "cannot build or boot without: ${missing_build[*]}"
            return 1
        fi
        skiff_say "continuing: only network-test and tool packages are missing"
        return 0
    fi

    skiff_say "installing missing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    local updated=0
    if skiff_apt_lists_empty; then
        apt-get update -q || return 1
        updated=1
    fi
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
        [ "$updated" -eq 1 ] && return 1
        skiff_say "install failed; refreshing the package lists once and retrying"
        apt-get update -q || return 1
        apt-get install -y -q --no-install-recommends "${missing[@]}" || return 1
    fi
}

skiff_configure_and_build() {
    local preset=${1:-x86_64}
    local build_dir="$SKIFF_ROOT/build/$preset"
    mkdir -p "$build_dir" || return 1
    (
        cd "$SKIFF_ROOT" || exit 1
        # Held until this subshell exits; a second qemu/run or tests/run waits here.
        exec 9>"$build_dir/.skiff-build.lock"
        if ! flock -n 9; then
            skiff_say "waiting for another build in build/$preset to finish"
            flock 9
        fi
        if [ ! -f "$build_dir/CMakeCache.txt" ] || [ ! -f "$build_dir/build.ninja" ]; then
            skiff_say "configuring: cmake --preset $preset"
            cmake --preset "$preset" >"$build_dir/.skiff-configure.log" 2>&1 || {
                cat "$build_dir/.skiff-configure.log" >&2
                skiff_say "configure failed (cmake --preset $preset)"
                exit 1
            }
        fi
        cmake --build --preset "$preset" || {
            skiff_say "build failed (cmake --build --preset $preset)"
            exit 1
        }
    )
}

skiff_setup() {
    local install=1 build=1 arg expect_preset=0 presets=() preset
    for arg in "$@"; do
        if [ "$expect_preset" -eq 1 ]; then
            presets+=("$arg")
            expect_preset=0
            continue
        fi
        case "$arg" in
        --no-install) install=0 ;;
        --no-build) build=0 ;;
        --preset) expect_preset=1 ;;
        esac
    done
    [ "${#presets[@]}" -eq 0 ] && presets=(x86_64)
    [ "${SKIFF_NO_INSTALL:-0}" = 1 ] && install=0
    [ "${SKIFF_NO_BUILD:-0}" = 1 ] && build=0
    if [ "$install" -eq 1 ]; then
        skiff_ensure_packages || return 1
    fi
    if [ "$build" -eq 1 ]; then
        for preset in "${presets[@]}"; do
            skiff_configure_and_build "$preset" || return 1
        done
    fi
}
