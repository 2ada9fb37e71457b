#!/usr/bin/env bash
# Runs `conan create` on the recipe beside this script with the offline Conan
# in <conan>, in a private CONAN_HOME under <work dir>.
# Exits 77 (the test's SKIP_RETURN_CODE) when that Conan or its Python
# dependencies are not installed.
# Usage: run_conan_create.sh <conan wrapper> <work dir>
set -euo pipefail
conan="$1"
work="$2"
recipe="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ ! -x "$conan" ]; then
  echo "SKIPPED: no Conan 2 at $conan"
  exit 77
fi
# The modules behind the Debian packages its README lists (bootstrap.sh test installs them).
if ! /usr/bin/python3 -s -c 'import requests, urllib3, colorama, yaml, patch_ng, fasteners, distro, jinja2, dateutil' 2>/dev/null; then
  echo "SKIPPED: Conan's Python dependencies are missing; see $(dirname "$conan")/README.md"
  exit 77
fi

mkdir -p "$work"
export CONAN_HOME="$(mktemp -d "$work/conan_home.XXXXXX")"
# The test package is built in a copy, so nothing is written into the source tree.
test_folder="$CONAN_HOME/test_package"
trap 'rm -rf "$CONAN_HOME"' EXIT
cp -r "$recipe/test_package" "$test_folder"

"$conan" profile detect
cp "$(dirname "$conan")/offline.profile" "$CONAN_HOME/profiles/offline"
"$conan" create "$recipe" -pr:a offline -s compiler.cppstd=20 --test-folder "$test_folder"
