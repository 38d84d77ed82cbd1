"""``python -m profilesync``: the same as the console script (for recipes where no script was installed)."""

from profilesync.cli import main

main()
