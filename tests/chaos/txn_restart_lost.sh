#!/usr/bin/env bash
# txn_restart_lost.sh - txn_restart_whole.sh with Connect's source offsets
# lost over the restart (issue 18): the interrupted transaction's END never
# comes; cdcsink releases it as abandoned and catches up.
T_NAME=txn_restart_lost TXN_RESTART_OFFSETS=lost exec "$(dirname "$0")/txn_restart_whole.sh" "$@"
