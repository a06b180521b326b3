"""Story page: one story as a self-contained HTML page (its data, how variants compare, the layout)."""
