"""Say whether this data process ran its worker's main script again, as multiprocessing does
in each process it starts when the main module is a script run by its path (a console script)
and not a package's __main__.

**
handler_type: mapper
required_capability: script
input: text
"""
import sys


def handle(ctx, records):
    yield "ran_main_script_again", int(sys.modules["__main__"].__name__ == "__mp_main__")
