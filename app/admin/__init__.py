"""The admin side: people, roles, sign-in, and the pages clinic and organisation admins use.

``auth.py`` is the interface every admin page builds on (``require``,
``can_manage_clinic``, ``load_clinic_for``, ``render``); ``sessions.py`` owns
sign-in, sessions and CSRF tokens; the views live next to them, one module per
page family.
"""
