#!/usr/bin/awk -f
# A mapper in awk: returns ("sum", value) for its one [key, value] argument.
#
# **
# handler_type: mapper
# required_capability: general
BEGIN { print "{\"return\": true}" }
{ gsub(/[][ ]/, ""); split($0, part, ","); print "[\"sum\", " part[2] "]" }
