"""Files mr ships beside its code: gunicorn configs, the web view's templates and static files.

In the source tree this is the top-level resources/; setup.py installs it as `mr.resources`.
Code finds these files through mr.resource_files, which knows both places.
"""
