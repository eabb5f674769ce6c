# Shared by the scripts: find Go and install the Debian packages feedbus needs.
# shellcheck shell=bash

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "feedbus: Go 1.26 or later is needed (https://go.dev/dl/)" >&2; exit 1; }

# have TOOL: TOOL is in PATH or in a system directory that a user's PATH
# often leaves out (ip and nft live in /usr/sbin).
have() {
	command -v "$1" >/dev/null 2>&1 && return 0
	local dir
	for dir in /usr/sbin /sbin /usr/bin /bin; do
		[ -x "$dir/$1" ] && return 0
	done
	return 1
}

# ensure_deps [PACKAGE...] makes sure the named Debian packages are there:
# libzmq3-dev and pkg-config to build, iproute2 for the multicast lab,
# nftables for the lab's loss tests; with no name, all four. As root it
# installs what is missing with apt-get. Without root it says what to
# install and stops only when the build cannot work (the lab needs root
# anyway).
ensure_deps() {
	local pkgs=("$@") missing=() build_missing=0 pkg
	[ ${#pkgs[@]} -gt 0 ] || pkgs=(libzmq3-dev pkg-config iproute2 nftables tshark)
	for pkg in "${pkgs[@]}"; do
		case $pkg in
		libzmq3-dev) dpkg -s libzmq3-dev >/dev/null 2>&1 && continue; build_missing=1 ;;
		pkg-config) have pkg-config && continue; build_missing=1 ;;
		iproute2) have ip && continue ;;
		nftables) have nft && continue ;;
		tshark) have tshark && continue ;; # the capture tests read our pcapng with it
		*) echo "feedbus: ensure_deps: unknown package $pkg" >&2; exit 1 ;;
		esac
		missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "feedbus: missing ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
		[ "$build_missing" -eq 0 ] || exit 1
		return 0
	fi
	echo "feedbus: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq "${missing[@]}" >/dev/null
}
