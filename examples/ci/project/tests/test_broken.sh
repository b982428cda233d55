#!/bin/sh
# Fails on purpose: the summary must report it (exit status 1).
echo "expected 3, got 2" >&2
exit 1
