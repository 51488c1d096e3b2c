#!/usr/bin/env bash
# Rebuild the common-password list that the password policy refuses: the `passwords` frequency
# list of the zxcvbn package (MIT, built from leaked password sets), most common first, taken
# from the wheel on PyPI at a pinned version so the list is the same on every rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
version=4.5.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/pip download --quiet --no-deps "zxcvbn==$version" -d "$work"
.venv/bin/python - "$work"/zxcvbn-"$version"-*.whl <<'PY'
import sys

sys.path.insert(0, sys.argv[1])  # a pure-Python wheel imports straight from its zip
from zxcvbn.frequency_lists import FREQUENCY_LISTS

words = FREQUENCY_LISTS["passwords"]
with open("src/apex_mediation/accounts/data/common_passwords.txt", "w") as out:
    out.write("# The zxcvbn package's 'passwords' frequency list (MIT licence), most common first;\n")
    out.write("# rebuilt by scripts/build-common-passwords.sh.\n")
    out.writelines(f"{word}\n" for word in words)
PY
