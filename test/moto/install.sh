#!/bin/sh
# Installs the moto AWS emulator for the contract tests (test/moto-contract.test.ts), once.
#
# moto comes from Debian: the python3-moto package of the trixie release, unpacked into .moto/
# of the repository (git-ignored), run by the system's /usr/bin/python3 with its dependencies
# from the machine's own Debian release. The trixie package index is fetched into .moto/apt/
# (removed afterwards), so the machine's apt configuration, lists and cache stay as they were.
# Needs apt (and root, or sudo, for the dependencies) the first time; afterwards it only checks
# that moto imports (well under a second). `npm test` never runs it: without moto the contract
# tests are skipped with this command as the reason (and fail in CI, whose .ci/run runs it).
#
#   sh test/moto/install.sh           install once, then check
#   sh test/moto/install.sh --check   only check: exit 0 when moto is ready, 1 when not
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
dest="$root/.moto"
site="$dest/usr/lib/python3/dist-packages"
python=/usr/bin/python3
deps="python3-boto3 python3-botocore python3-werkzeug python3-flask python3-responses \
python3-xmltodict python3-jinja2 python3-cryptography python3-dateutil python3-requests \
python3-antlr4 python3-yaml python3-flask-cors"

ready() {
  [ -x "$python" ] && [ -f "$site/moto/server.py" ] &&
    PYTHONPATH="$site" "$python" -c 'import moto.server' >/dev/null 2>&1
}
if ready; then exit 0; fi
if [ "${1:-}" = --check ]; then exit 1; fi

echo "moto: installing the emulator into $dest (once)" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "moto: apt-get not found; the contract tests need Debian's python3-moto (see docs/development.md, The emulators)" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=sudo; else
    echo "moto: run as root (or install sudo) once: apt-get install $deps" >&2
    exit 1
  fi
fi

missing=""
for p in $deps; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The trixie index, from the machine's own Debian mirror, in a private apt configuration.
aptdir="$dest/apt"
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/debs"
mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
  grep -v security | head -n 1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
cat >"$aptdir/trixie.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
cat >"$aptdir/apt.conf" <<CONF
Dir::Etc::sourcelist "$aptdir/trixie.sources";
Dir::Etc::sourceparts "-";
Dir::State::Lists "$aptdir/lists";
Dir::Cache "$aptdir/cache";
APT::Sandbox::User "$(id -un)";
#clear APT::Update::Post-Invoke-Success;
CONF
private() { apt-get -q -c "$aptdir/apt.conf" "$@"; }
private update >/dev/null
(cd "$aptdir/debs" && rm -f python3-moto_*.deb && private download python3-moto >/dev/null)
deb=$(ls "$aptdir/debs"/python3-moto_*.deb)
dpkg -x "$deb" "$dest"
package=$(basename "$deb")
rm -rf "$aptdir"

if ! ready; then
  echo "moto: unpacked $package but 'import moto.server' fails:" >&2
  PYTHONPATH="$site" "$python" -c 'import moto.server' >&2 || true
  exit 1
fi
echo "moto: $package ready" >&2
