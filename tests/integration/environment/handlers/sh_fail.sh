#!/bin/sh
# A mapper in shell that fails: a message on stderr and exit status 3.
#
# **
# handler_type: mapper
# required_capability: general
echo "reading the input" >&2
echo "cannot open /no/such/input" >&2
exit 3
