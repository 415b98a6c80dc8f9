"""Errors that reach the user as one line, never as a traceback."""


class UserError(Exception):
    """A problem the user can fix; its text is the whole message shown.

    The text states what failed and what to do next, and never contains a secret.
    """

    exit_code = 2
