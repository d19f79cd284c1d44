# Sourced by the provisioning scripts that install Debian packages; they define fail() first.
#   apt_install "<how to install without apt-get>" [apt-get install options] package...
# As root, or through sudo; the package lists are updated once per script.
APT_UPDATED=""
apt_install() {
  local without_apt="$1"
  shift
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "not root and no sudo. Fix: as root, run: apt-get install $*"
    sudo="sudo"
  fi
  command -v apt-get >/dev/null 2>&1 || fail "apt-get not found. Fix: $without_apt"
  if [ -z "$APT_UPDATED" ]; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}
