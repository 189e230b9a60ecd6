"""Card holds after authorisation (capture, release, lapse) and no-shows, end to end."""
