"""``profilesync doctor``: the checks a nightly run needs, one line each, with advice."""
