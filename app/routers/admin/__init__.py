"""Administration: role ``admin``; ``auditor`` may read (GET) everything here."""
