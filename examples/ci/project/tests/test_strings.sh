#!/bin/sh
# Passes: reads a fixture from the checkout, writes scratch files next to it
# (the sandbox's --overlay keeps the checkout itself unchanged).
set -e
grep -q '^hello$' fixtures/greeting.txt
tr a-z A-Z <fixtures/greeting.txt >fixtures/greeting.upper
grep -q '^HELLO$' fixtures/greeting.upper
echo "strings ok"
