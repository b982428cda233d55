#!/bin/sh
# Never finishes: the runner's --timeout ends it (exit status 124), with the
# background process it started.
sleep 1000 &
while :; do sleep 1; done
