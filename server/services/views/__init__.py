"""The read side: every viewer-facing read of a room, judged by the one visibility function.

``log``: pages of the log (replay, live commits, HTTP history, export lines). ``room``: the
room, seats, threads, agenda, positions, proposals, coalitions and the agreement. Nothing outside
this package (and the domain itself) calls ``server.domain.visibility``; a test checks it.

Each module is imported by its own name: the package imports neither, so what reads only pages of
the log (``parley audit export``) does not pay for the room views' protocol models.
"""
