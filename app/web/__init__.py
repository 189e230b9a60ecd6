"""HTTP: REST for host platforms, webhooks, the panels' pages."""
