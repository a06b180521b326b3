"""Sources: where documents come from. Files and folders, feeds and sitemaps, URL lists, fetched politely;
what a live source is, and what was fetched already.
"""
