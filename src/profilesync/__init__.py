"""profilesync: SIS photos and family contacts into Canvas (and Guru)."""

__version__ = "0.1.0"
