"""The python tier: a whole program generated as Python source and compiled by CPython.

:mod:`.cfg` finds the basic blocks and loops, :mod:`.dataflow` the live registers and the
stack offsets known at compile time, :mod:`.structure` turns the graph into ``while`` and
``if``, :mod:`.emit` writes each instruction, :mod:`.render` and :mod:`.module` assemble
the source, and :mod:`.runner` runs it on the shared memory model.
"""

from .runner import PythonRunner

__all__ = ["PythonRunner"]
