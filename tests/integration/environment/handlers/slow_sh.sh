#!/bin/sh
# Sleeps for a minute, far past its time limit of 1 s; writes its pid for the test to check.
#
# **
# handler_type: mapper
# required_capability: general
# time_limit_s: 1
echo $$ > "$MR_FS_ROOT/slow_sh.$MR_REQUEST_ID.pid"
echo '{"return": true}'
sleep 60
echo '["never", 1]'
