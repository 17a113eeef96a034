"""Errors the command line turns into a clear message and an exit status."""


class UsageError(Exception):
    """Bad input from the user (scenario, flags, result files): exit status 2.

    ``problems`` holds one line per problem, each naming where it is (file, line,
    key path) and what was expected.
    """

    exit_status = 2

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
