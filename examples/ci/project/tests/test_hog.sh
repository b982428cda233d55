#!/bin/sh
# Wants far more memory than the runner allows: the OOM killer ends it
# (exit status 137) and --stats counts the kill.
x=$(head -c 500000000 /dev/zero | tr '\0' x)
echo "allocated ${#x} bytes"
