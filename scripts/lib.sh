# Shared by the scripts: find Go and install the Debian packages feedbus needs.
# shellcheck shell=bash

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "feedbus: Go 1.26 or later is needed (https://go.dev/dl/)" >&2; exit 1; }

# ensure_deps installs what is missing of libzmq3-dev, pkg-config, iproute2
# and nftables (as root, with apt-get); without root it only says what to run.
ensure_deps() {
	local missing=()
	dpkg -s libzmq3-dev >/dev/null 2>&1 || missing+=(libzmq3-dev)
	command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
	command -v ip >/dev/null 2>&1 || missing+=(iproute2)
	command -v nft >/dev/null 2>&1 || missing+=(nftables)
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "feedbus: missing ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
		dpkg -s libzmq3-dev >/dev/null 2>&1 || exit 1
		return 0
	fi
	echo "feedbus: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq "${missing[@]}" >/dev/null
}
