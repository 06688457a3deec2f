"""The command line as a process of its own (``python3 -m cleaner`` and the installed
``cleaner`` script, one entry point for both), which ends without the interpreter's
teardown when nothing else needs it."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from types import FrameType
from typing import NoReturn

from .commands import main


def run(argv: list[str] | None = None) -> NoReturn:
    """Run the command line (``argv``: the arguments, else ``sys.argv[1:]``) and end the
    process with its exit code, skipping the interpreter's teardown (``os._exit``) where
    that is safe.

    At the end of a run the process holds what the run left in memory (numpy, the dedup
    index's arrays, hundreds of modules), and the teardown frees it object by object: 50 ms
    of CPU after a run of a 600 KB scrape with one worker, a tenth of a short run's time,
    spent giving memory back to a process about to end. Everything the teardown does that
    has an effect outside the process is done first: the ``atexit`` functions (logging's
    handlers flushed, multiprocessing's and tempfile's clean-ups), then the standard
    streams flushed. Where that cannot be trusted the process ends the usual way
    (``sys.exit``): the command line run inside another program (a profiler, coverage, a
    debugger, a test: they write their results after this returns, see :func:`_alone`),
    a thread other than this one still running (the interpreter would wait for it), an
    exit status that is not a number (a message Python prints), an error flushing the
    streams (Python reports a closed pipe itself), an exception (its traceback)."""
    try:
        main(args=argv, prog_name="cleaner")
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    if not isinstance(code, int) or isinstance(code, bool) or threading.active_count() > 1 \
            or not _alone(sys._getframe(1)):
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code & 0xFF)  # the status the system would give sys.exit(code)


def _alone(caller: FrameType) -> bool:
    """Whether the process is only the command line: ``run`` called by the main program's
    own code (``caller``: the module level of ``__main__``, which ``python -m`` runs through
    runpy and the installed script runs directly), with nothing beneath it but runpy's
    frames, and no tracing or profiling function set. Under ``python -m cProfile -m
    cleaner``, coverage or pdb the module is ``__main__`` too, but their frames lie beneath
    it and they still have work to do when it returns (cProfile writes its ``-o`` file)."""
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return False
    main_module = sys.modules.get("__main__")
    if main_module is None or caller.f_globals is not vars(main_module) or caller.f_code.co_name != "<module>":
        return False
    frame = caller.f_back
    while frame is not None:
        if frame.f_globals.get("__name__") != "runpy":
            return False
        frame = frame.f_back
    return True
