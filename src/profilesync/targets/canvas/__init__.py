"""Canvas: everything profilesync knows about Canvas LMS (ids, statuses, uploads, avatars, observers)."""
