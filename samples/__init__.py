"""Sample streams: a seeded generator of synthetic live streams with planted highlights."""
