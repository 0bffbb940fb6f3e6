"""Tracing: rebuild a request's invocation tree from its records and render it.

`tree` and `render` are pure functions over decoded invocations (unit-tested without etcd);
`store` is the one part that reads etcd, a page at a time.
"""
