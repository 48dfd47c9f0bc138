"""The kernel's own BPF selftests, read from a kernel source tarball and turned into cases.

Nothing of the kernel's source is stored in pybpf: :mod:`.test_verifier` reads Linux's
``test_verifier`` tests from Debian's ``linux-source-6.1`` package at run time, and
:mod:`.kernel_verdicts` records what the running kernel says about them.
"""
