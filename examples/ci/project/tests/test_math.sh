#!/bin/sh
# Passes: arithmetic the shell can check.
set -e
[ $((6 * 7)) -eq 42 ]
[ $((1 << 10)) -eq 1024 ]
echo "math ok"
