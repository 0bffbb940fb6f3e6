#!/bin/sh
# Writes its pid, then waits until the test lets it go (a file held_sh.go): a test can kill
# its worker meanwhile.
#
# **
# handler_type: mapper
# required_capability: general
echo $$ > "$MR_FS_ROOT/held_sh.$MR_REQUEST_ID.$$.pid"
while [ ! -e "$MR_FS_ROOT/held_sh.go" ]; do sleep 0.05; done
echo '{"return": true}'
echo '["held", 1]'
