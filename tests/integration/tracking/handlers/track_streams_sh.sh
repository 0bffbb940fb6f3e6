#!/bin/sh
# A shell mapper writing to both streams: its pairs on stdout, its remarks on stderr, which
# the engine keeps as the invocation's stderr.
#
# **
# handler_type: mapper
# required_capability: general
echo "shell remark on stderr" >&2
echo '{"return": true}'
echo '["total", 2]'
