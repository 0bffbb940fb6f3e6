#!/bin/sh
# A mapper in shell: fans out to step sh_leaf, one child per value 10, 20, 30.
#
# **
# handler_type: mapper
# required_capability: general
echo "fanning out from $MR_INVOCATION_ID" >&2
echo '{"map_to": "sh_leaf"}'
for i in 1 2 3; do
    echo "[$i, $((i * 10))]"
done
